import { describe, expect, it } from "vitest";
import type { TaskEvent } from "../api/types";
import { emptyRun, formatDuration, reduceEvent, viewFromTask } from "./runState";

let seq = 0;
const ev = (type: string, data: unknown, time = "2026-01-01T00:00:00.000000Z"): TaskEvent => ({
  seq: ++seq,
  type,
  task_id: "t",
  time,
  data,
});
const task = (status: string) => ({ id: "t", status, turn: 1 });

describe("reduceEvent", () => {
  it("shows a wait node waiting while the task is paused, running again once resumed", () => {
    seq = 0;
    let v = emptyRun(["ask", "wait", "after"]);
    v = reduceEvent(v, ev("task_created", task("pending")));
    v = reduceEvent(v, ev("node_started", { node_id: "wait" }));
    v = reduceEvent(v, ev("task_paused", { ...task("paused"), hitl_request: {} }));
    v = reduceEvent(v, ev("hitl_requested", { wait_node_id: "wait", title: "ok?" }));
    expect(v.task?.status).toBe("paused");
    expect(v.nodes.wait?.state).toBe("waiting");
    expect(v.nodes.after?.state).toBe("pending");
    v = reduceEvent(v, ev("task_resumed", task("pending")));
    expect(v.nodes.wait?.state).toBe("running");
    v = reduceEvent(v, ev("node_finished", { node_id: "wait", status: "completed" }));
    expect(v.nodes.wait?.state).toBe("completed");
  });

  it("a paused task read whole shows its wait node waiting", () => {
    const paused = {
      ...task("paused"),
      hitl_request: { wait_node_id: "wait" },
      node_runs: [],
    } as unknown as Parameters<typeof viewFromTask>[0];
    const v = viewFromTask(paused, ["wait", "after"]);
    expect(v.nodes.wait?.state).toBe("waiting");
    expect(v.finished).toBe(false);
  });

  it("moves nodes through pending, running, completed with durations", () => {
    seq = 0;
    let v = emptyRun(["a", "b", "c"]);
    v = reduceEvent(v, ev("task_created", task("pending")));
    v = reduceEvent(v, ev("node_started", { node_id: "a" }, "2026-01-01T00:00:01.000000Z"));
    expect(v.nodes.a?.state).toBe("running");
    expect(v.nodes.b?.state).toBe("pending");
    v = reduceEvent(
      v,
      ev("node_finished", {
        node_id: "a",
        status: "completed",
        started_at: "2026-01-01T00:00:01.000000Z",
        finished_at: "2026-01-01T00:00:01.250000Z",
        error: null,
      }),
    );
    expect(v.nodes.a).toMatchObject({ state: "completed", durationMs: 250, runs: 1 });
    v = reduceEvent(v, ev("node_started", { node_id: "b" }));
    v = reduceEvent(v, ev("node_finished", { node_id: "b", status: "failed", error: "boom" }));
    expect(v.nodes.b).toMatchObject({ state: "error", error: "boom" });
    v = reduceEvent(v, ev("task_finished", { ...task("error"), result: "x" }));
    expect(v.finished).toBe(true);
    expect(v.nodes.c?.state).toBe("skipped");
    expect(v.task?.status).toBe("error");
  });

  it("ignores replays of events already folded (Last-Event-ID overlap)", () => {
    seq = 0;
    const started = ev("node_started", { node_id: "a" });
    let v = reduceEvent(emptyRun(["a"]), started);
    const finished = ev("node_finished", { node_id: "a", status: "completed" });
    v = reduceEvent(v, finished);
    expect(reduceEvent(v, started)).toBe(v);
    expect(v.nodes.a?.state).toBe("completed");
  });

  it("a node still running when the task stops ends as error; a new turn starts over", () => {
    seq = 0;
    let v = reduceEvent(emptyRun(["a", "b"]), ev("node_started", { node_id: "a" }));
    v = reduceEvent(v, ev("task_finished", task("stopped")));
    expect(v.nodes.a).toMatchObject({ state: "error", error: "task stopped" });
    v = reduceEvent(v, ev("task_created", { ...task("pending"), turn: 2 }));
    expect(v.nodes.a?.state).toBe("pending");
    expect(v.finished).toBe(false);
  });

  it("concatenates chunks and pairs tool calls with their results", () => {
    seq = 0;
    let v = emptyRun(["agent"]);
    v = reduceEvent(v, ev("chunk", "Hel"));
    v = reduceEvent(v, ev("chunk", "lo"));
    v = reduceEvent(v, ev("tool_call_request", { tool_name: "search", payload: { q: 1 } }));
    v = reduceEvent(
      v,
      ev("tool_call_result", { tool_name: "search", result: "ok", is_error: false }),
    );
    expect(v.chunks).toBe("Hello");
    expect(v.toolCalls).toEqual([
      { name: "search", payload: { q: 1 }, result: "ok", isError: false },
    ]);
  });
});

it("tracks sub-tasks for drill-down", () => {
  seq = 0;
  let v = reduceEvent(emptyRun(["a"]), ev("sub_task_created", { id: "child", status: "pending" }));
  v = reduceEvent(v, ev("sub_task_finished", { id: "child", status: "completed" }));
  expect(v.subTasks).toEqual([{ id: "child", status: "completed" }]);
});

describe("drilling down into sub-tasks", () => {
  const child = (id: string, agent_id: string, status = "pending") => ({ id, agent_id, status });

  it("gives a sub-task to the running node that started it", () => {
    seq = 0;
    let v = emptyRun(["first", "ask"]);
    v = reduceEvent(v, ev("node_started", { node_id: "first" }));
    v = reduceEvent(v, ev("node_finished", { node_id: "first", status: "completed" }));
    v = reduceEvent(v, ev("node_started", { node_id: "ask" }));
    v = reduceEvent(v, ev("sub_task_created", child("c1", "agent-1")));
    v = reduceEvent(v, ev("sub_task_finished", child("c1", "agent-1", "completed")));
    expect(v.subTaskOf).toEqual({ ask: "c1" });
  });

  it("tells apart branches running at once by the agent their definition names", () => {
    seq = 0;
    let v = emptyRun(["left", "right"], { left: "agent-L", right: "agent-R" });
    v = reduceEvent(v, ev("node_started", { node_id: "left" }));
    v = reduceEvent(v, ev("node_started", { node_id: "right" }));
    v = reduceEvent(v, ev("sub_task_created", child("cR", "agent-R")));
    v = reduceEvent(v, ev("sub_task_created", child("cL", "agent-L")));
    expect(v.subTaskOf).toEqual({ left: "cL", right: "cR" });
  });

  it("guesses no owner among several running nodes it cannot tell apart", () => {
    seq = 0;
    let v = emptyRun(["left", "right"]);
    v = reduceEvent(v, ev("node_started", { node_id: "left" }));
    v = reduceEvent(v, ev("node_started", { node_id: "right" }));
    v = reduceEvent(v, ev("sub_task_created", child("c", "agent-X")));
    expect(v.subTaskOf).toEqual({});
    expect(v.subTasks).toEqual([{ id: "c", status: "pending" }]);
  });

  it("forgets the last turn's sub-tasks when a new turn starts", () => {
    seq = 0;
    let v = emptyRun(["ask"]);
    v = reduceEvent(v, ev("node_started", { node_id: "ask" }));
    v = reduceEvent(v, ev("sub_task_created", child("c1", "a")));
    v = reduceEvent(v, ev("task_created", { id: "t", status: "pending", turn: 2 }));
    expect(v.subTaskOf).toEqual({});
  });
});

describe("viewFromTask", () => {
  it("rebuilds the latest turn's states from node_runs", () => {
    const v = viewFromTask(
      {
        ...task("completed"),
        turn: 2,
        node_runs: [
          { node_id: "a", turn: 1, status: "failed" },
          {
            node_id: "a",
            turn: 2,
            status: "completed",
            started_at: "2026-01-01T00:00:00Z",
            finished_at: "2026-01-01T00:00:02Z",
          },
        ],
      } as never,
      ["a", "b"],
    );
    expect(v.nodes.a).toMatchObject({ state: "completed", durationMs: 2000 });
    expect(v.nodes.b?.state).toBe("skipped");
  });
});

it("formats durations", () => {
  expect(formatDuration(12)).toBe("12 ms");
  expect(formatDuration(1500)).toBe("1.50 s");
  expect(formatDuration(61_000)).toBe("1 min 1 s");
  expect(formatDuration(null)).toBe("");
});
