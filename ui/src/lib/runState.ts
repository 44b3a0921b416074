import type { NodeRun, Task, TaskEvent } from "../api/types";
import { TERMINAL } from "../api/types";

export type NodeState = "pending" | "running" | "waiting" | "completed" | "error" | "skipped";

export interface NodeView {
  state: NodeState;
  startedAt: number | null;
  finishedAt: number | null;
  /** ms; for a running node, the caller adds `now - startedAt` */
  durationMs: number | null;
  error: string | null;
  runs: number;
}

export interface RunView {
  task: Task | null;
  nodes: Record<string, NodeView>;
  /** the agent's streamed answer so far */
  chunks: string;
  toolCalls: { name: string; payload: unknown; result?: unknown; isError?: boolean }[];
  /** sub-tasks started by agent nodes, in order, with their latest status */
  subTasks: { id: string; status: string }[];
  /** node id -> the sub-task it started (this turn), for drilling down from the canvas */
  subTaskOf: Record<string, string>;
  /** node id -> the agent or workflow it runs as a sub-task (from the definition): tells
   * apart nodes running at once when a sub-task starts */
  targets: Record<string, string>;
  lastSeq: number;
  finished: boolean;
}

export function emptyRun(nodeIds: string[], targets: Record<string, string> = {}): RunView {
  const nodes: Record<string, NodeView> = {};
  for (const id of nodeIds) nodes[id] = pendingNode();
  return {
    task: null,
    nodes,
    chunks: "",
    toolCalls: [],
    subTasks: [],
    subTaskOf: {},
    targets,
    lastSeq: 0,
    finished: false,
  };
}

function pendingNode(): NodeView {
  return {
    state: "pending",
    startedAt: null,
    finishedAt: null,
    durationMs: null,
    error: null,
    runs: 0,
  };
}

function ms(time: string | null | undefined): number | null {
  if (!time) return null;
  const value = Date.parse(time);
  return Number.isNaN(value) ? null : value;
}

interface StartedData {
  node_id: string;
}

/** Fold one task event into the run's view. Pure: returns a new view; replays are idempotent
 * (an event at or below the last seen sequence changes nothing). */
export function reduceEvent(view: RunView, event: TaskEvent): RunView {
  if (event.seq && event.seq <= view.lastSeq) return view;
  const next: RunView = { ...view, lastSeq: event.seq || view.lastSeq };
  switch (event.type) {
    case "task_created": {
      // a new turn starts over: every node is pending again
      const nodes: Record<string, NodeView> = {};
      for (const id of Object.keys(view.nodes)) nodes[id] = pendingNode();
      return {
        ...next,
        task: event.data as Task,
        nodes,
        chunks: "",
        toolCalls: [],
        subTaskOf: {},
        finished: false,
      };
    }
    case "task_updated":
      return { ...next, task: event.data as Task };
    case "task_paused":
      return { ...next, task: event.data as Task };
    case "hitl_requested": {
      // the wait node holds the run until a decision or a callback
      const data = event.data as { wait_node_id?: string };
      const id = data.wait_node_id;
      if (!id) return next;
      const prior = view.nodes[id] ?? pendingNode();
      return {
        ...next,
        nodes: {
          ...view.nodes,
          [id]: { ...prior, state: "waiting", startedAt: prior.startedAt ?? ms(event.time) },
        },
      };
    }
    case "task_resumed": {
      // queued again: the wait node runs on with the decision
      const nodes: Record<string, NodeView> = {};
      for (const [id, node] of Object.entries(view.nodes))
        nodes[id] = node.state === "waiting" ? { ...node, state: "running" } : node;
      return { ...next, task: event.data as Task, nodes };
    }
    case "node_started": {
      const data = event.data as StartedData;
      const prior = view.nodes[data.node_id] ?? pendingNode();
      return {
        ...next,
        nodes: {
          ...view.nodes,
          [data.node_id]: {
            ...prior,
            state: "running",
            startedAt: ms(event.time),
            finishedAt: null,
            durationMs: null,
            error: null,
          },
        },
      };
    }
    case "node_finished": {
      const run = event.data as NodeRun;
      const prior = view.nodes[run.node_id] ?? pendingNode();
      const started = ms(run.started_at) ?? prior.startedAt;
      const finished = ms(run.finished_at) ?? ms(event.time);
      return {
        ...next,
        nodes: {
          ...view.nodes,
          [run.node_id]: {
            state: run.status === "completed" ? "completed" : "error",
            startedAt: started,
            finishedAt: finished,
            durationMs: started !== null && finished !== null ? finished - started : null,
            error: run.error ?? null,
            runs: prior.runs + 1,
          },
        },
      };
    }
    case "chunk":
      return { ...next, chunks: view.chunks + (typeof event.data === "string" ? event.data : "") };
    case "tool_call_request": {
      const data = event.data as { tool_name?: string; payload?: unknown };
      return {
        ...next,
        toolCalls: [...view.toolCalls, { name: data.tool_name ?? "tool", payload: data.payload }],
      };
    }
    case "tool_call_result": {
      const data = event.data as { tool_name?: string; result?: unknown; is_error?: boolean };
      const calls = [...view.toolCalls];
      const open = calls.findLastIndex((c) => c.name === data.tool_name && c.result === undefined);
      if (open >= 0) {
        const call = calls[open];
        if (call) calls[open] = { ...call, result: data.result, isError: data.is_error };
      }
      return { ...next, toolCalls: calls };
    }
    case "sub_task_created":
    case "sub_task_finished": {
      const child = event.data as Task;
      const others = view.subTasks.filter((t) => t.id !== child.id);
      const known = view.subTasks.find((t) => t.id === child.id);
      const entry = { id: child.id, status: child.status };
      const owner = Object.values(view.subTaskOf).includes(child.id) ? null : ownerOf(view, child);
      return {
        ...next,
        subTaskOf: owner ? { ...view.subTaskOf, [owner]: child.id } : view.subTaskOf,
        subTasks: known
          ? view.subTasks.map((t) => (t.id === child.id ? entry : t))
          : [...others, entry],
      };
    }
    case "task_finished": {
      const task = event.data as Task;
      const nodes: Record<string, NodeView> = {};
      for (const [id, node] of Object.entries(view.nodes)) {
        if (node.state === "pending") nodes[id] = { ...node, state: "skipped" };
        else if (node.state === "running" || node.state === "waiting")
          nodes[id] = {
            ...node,
            state: "error",
            error: node.error ?? `task ${task.status}`,
            finishedAt: ms(event.time),
            durationMs: node.startedAt !== null ? (ms(event.time) ?? 0) - node.startedAt : null,
          };
        else nodes[id] = node;
      }
      return { ...next, task, nodes, finished: true };
    }
    default:
      return next; // sub_task_* and unknown types: nothing on the canvas
  }
}

/** The node that started `child`: a node starts its sub-task while it runs (its
 * `node_started` is always written before), so it is a running node without a sub-task yet,
 * the one whose definition names the child's agent or workflow where several run at once. */
function ownerOf(view: RunView, child: Task): string | null {
  const free = Object.entries(view.nodes)
    .filter(([id, node]) => node.state === "running" && !(id in view.subTaskOf))
    .sort(([, a], [, b]) => (a.startedAt ?? 0) - (b.startedAt ?? 0))
    .map(([id]) => id);
  const named = free.filter((id) => view.targets[id] === child.agent_id);
  return named[0] ?? (free.length === 1 ? (free[0] as string) : null);
}

/** The view of a task already known (GET /v1/tasks/{id}): its trace of node runs. */
export function viewFromTask(
  task: Task,
  nodeIds: string[],
  targets: Record<string, string> = {},
): RunView {
  let view = emptyRun(nodeIds, targets);
  const runs = (task.node_runs ?? []).filter((r) => r.turn === task.turn);
  for (const run of runs) {
    const prior = view.nodes[run.node_id] ?? pendingNode();
    const started = ms(run.started_at);
    const finished = ms(run.finished_at);
    view = {
      ...view,
      nodes: {
        ...view.nodes,
        [run.node_id]: {
          state: run.status === "completed" ? "completed" : "error",
          startedAt: started,
          finishedAt: finished,
          durationMs: started !== null && finished !== null ? finished - started : null,
          error: run.error,
          runs: prior.runs + 1,
        },
      },
    };
  }
  view = { ...view, task };
  const waitingAt = task.status === "paused" ? task.hitl_request?.wait_node_id : undefined;
  if (waitingAt) {
    const prior = view.nodes[waitingAt] ?? pendingNode();
    view = {
      ...view,
      nodes: { ...view.nodes, [waitingAt]: { ...prior, state: "waiting", startedAt: null } },
    };
  }
  if (TERMINAL.has(task.status)) {
    const nodes: Record<string, NodeView> = {};
    for (const [id, node] of Object.entries(view.nodes))
      nodes[id] = node.state === "pending" ? { ...node, state: "skipped" } : node;
    view = { ...view, nodes, finished: true };
  }
  return view;
}

export function formatDuration(msValue: number | null): string {
  if (msValue === null || msValue < 0) return "";
  if (msValue < 1000) return `${Math.round(msValue)} ms`;
  if (msValue < 60_000) return `${(msValue / 1000).toFixed(msValue < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(msValue / 60_000);
  return `${minutes} min ${Math.round((msValue % 60_000) / 1000)} s`;
}
