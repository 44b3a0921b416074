import { describe, expect, it } from "vitest";
import type { OrchestrationNode } from "../api/types";
import {
  allNodeIds,
  conditionLabel,
  END_ID,
  entryOf,
  layoutWorkflow,
  NODE_H,
  placeLayers,
  START_ID,
  subTaskTargets,
} from "./layout";

const nodes: OrchestrationNode[] = [
  { id: "a", type: "code", next_node_ids: ["p"] },
  {
    id: "p",
    type: "parallel",
    next_node_ids: ["y", "n"],
    definition: {
      nodes: [
        { id: "p1", type: "code" },
        { id: "p2", type: "agent" },
      ],
    },
  },
  { id: "y", type: "code", condition: { type: "contains", value: "ok" } },
  { id: "n", type: "code", condition: { type: "else" } },
  { id: "loop", type: "node_pointer", definition: { source_node_id: "a" } },
];

describe("layoutWorkflow", () => {
  const { nodes: laid, edges } = layoutWorkflow(nodes);
  const at = (id: string) => laid.find((n) => n.id === id);

  it("flows left to right from START to END", () => {
    const order = [START_ID, "a", "p", "y", END_ID].map((id) => at(id)?.x ?? Number.NaN);
    for (let i = 1; i < order.length; i++) expect(order[i]).toBeGreaterThan(order[i - 1] as number);
  });

  it("draws a parallel node as a group holding its branches", () => {
    expect(at("p")?.kind).toBe("group");
    expect(at("p1")).toMatchObject({ parentId: "p", kind: "node" });
    expect(at("p2")?.parentId).toBe("p");
    const group = at("p");
    const branch = at("p2");
    expect((branch?.y ?? 0) + (branch?.height ?? 0)).toBeLessThanOrEqual(group?.height ?? 0);
    // parents come before their children, as @xyflow/react needs
    expect(laid.findIndex((n) => n.id === "p")).toBeLessThan(laid.findIndex((n) => n.id === "p1"));
  });

  it("labels edges with their target's condition and dashes pointer jumps", () => {
    expect(edges.find((e) => e.id === "p->y")?.label).toBe('contains "ok"');
    expect(edges.find((e) => e.id === "p->n")?.label).toBe("else");
    expect(edges.find((e) => e.source === "loop")).toMatchObject({ target: "a", kind: "pointer" });
    expect(edges.some((e) => e.source === "y" && e.target === END_ID)).toBe(true);
  });

  it("lays out an empty workflow and a 200-node one", () => {
    expect(layoutWorkflow([]).nodes.map((n) => n.id)).toEqual([START_ID, END_ID]);
    const big: OrchestrationNode[] = Array.from({ length: 200 }, (_, i) => ({
      id: `n${i}`,
      type: "code",
      next_node_ids: i < 199 ? [`n${i + 1}`] : [],
    }));
    // its time is measured in the browser (e2e/perf.spec.ts), not here on a shared machine
    const laid = layoutWorkflow(big).nodes;
    expect(laid).toHaveLength(202);
    expect(new Set(laid.map((n) => `${Math.round(n.x)},${Math.round(n.y)}`)).size).toBe(202);
  });
});

it("finds the entry node and every id", () => {
  expect(entryOf(nodes)).toBe("a");
  expect(allNodeIds(nodes)).toEqual(["a", "p", "p1", "p2", "y", "n", "loop"]);
  expect(conditionLabel({ type: "gte", path: "score", value: 3 })).toBe("score ≥ 3");
  expect(conditionLabel(null)).toBeUndefined();
});

describe("placeLayers", () => {
  const size = new Map(
    ["s", "a", "b", "c", "d", "e"].map((id) => [id, { width: 100, height: NODE_H }]),
  );
  it("keeps a chain on one row and puts each step in its own column", () => {
    const at = placeLayers(
      ["s", "a", "b"],
      [
        ["s", "a"],
        ["a", "b"],
      ],
      size,
      "s",
    );
    expect(new Set(["s", "a", "b"].map((id) => at.get(id)?.y)).size).toBe(1);
    expect(at.get("a")?.x).toBeLessThan(at.get("b")?.x as number);
  });

  it("spreads a fan-out in one column without overlaps, centred on its source", () => {
    const fan: [string, string][] = [
      ["s", "a"],
      ["s", "b"],
      ["s", "c"],
    ];
    const at = placeLayers(["s", "a", "b", "c"], fan, size, "s");
    const ys = ["a", "b", "c"].map((id) => at.get(id)?.y as number).sort((x, y) => x - y);
    expect(new Set(["a", "b", "c"].map((id) => at.get(id)?.x)).size).toBe(1);
    expect((ys[1] as number) - (ys[0] as number)).toBeGreaterThanOrEqual(NODE_H);
    expect((ys[2] as number) - (ys[1] as number)).toBeGreaterThanOrEqual(NODE_H);
    expect(at.get("s")?.y).toBeCloseTo(ys[1] as number);
  });

  it("puts a join after the longest way into it", () => {
    const edges: [string, string][] = [
      ["s", "a"],
      ["a", "b"],
      ["b", "d"],
      ["s", "d"],
    ];
    const at = placeLayers(["s", "a", "b", "d"], edges, size, "s");
    expect(at.get("d")?.x).toBeGreaterThan(at.get("b")?.x as number);
  });

  it("survives a cycle in stored data", () => {
    const at = placeLayers(
      ["s", "a", "b"],
      [
        ["s", "a"],
        ["a", "b"],
        ["b", "a"],
      ],
      size,
      "s",
    );
    expect(at.size).toBe(3);
  });
});

describe("subTaskTargets", () => {
  it("names what agent and orchestration nodes run, branches included", () => {
    const nodes: OrchestrationNode[] = [
      { id: "a", type: "agent", definition: { asset_id: "agent-1" } },
      { id: "w", type: "orchestration", definition: { workflow_id: "wf-1" } },
      { id: "c", type: "code", definition: { asset_id: "not-a-sub-task" } },
      {
        id: "p",
        type: "parallel",
        definition: {
          nodes: [{ id: "b", type: "agent", definition: { target_agent_id: "agent-2" } }],
        },
      },
    ];
    expect(subTaskTargets(nodes)).toEqual({ a: "agent-1", w: "wf-1", b: "agent-2" });
  });
});
