import { describe, expect, it } from "vitest";
import type { OrchestrationNode } from "../api/types";
import { allNodeIds, conditionLabel, END_ID, entryOf, layoutWorkflow, START_ID } from "./layout";

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
