import { describe, expect, it } from "vitest";
import type { OrchestrationNode } from "../api/types";
import {
  addNode,
  connect,
  diffMarks,
  diffNodes,
  disconnect,
  removeNodes,
  replaceNode,
  wouldCycle,
} from "./graphEdit";

const base: OrchestrationNode[] = [
  { id: "a", type: "code", next_node_ids: ["b"], definition: { code: "x" } },
  { id: "b", type: "code", next_node_ids: [], definition: { code: "y" } },
];

describe("graph edits map to the definition", () => {
  it("adds a node after the selected one with a fresh id", () => {
    const { nodes, id } = addNode(base, "code", "b");
    expect(id).toBe("code_1");
    expect(nodes.find((n) => n.id === "b")?.next_node_ids).toEqual(["code_1"]);
    expect(addNode(nodes, "code").id).toBe("code_2");
  });

  it("connects, refusing cycles and duplicates; disconnects", () => {
    expect(wouldCycle(base, "b", "a")).toBe(true);
    expect(connect(base, "b", "a")).toBe(base);
    const { nodes } = addNode(base, "code");
    const linked = connect(nodes, "a", "code_1");
    expect(linked.find((n) => n.id === "a")?.next_node_ids).toEqual(["b", "code_1"]);
    expect(connect(linked, "a", "code_1")).toEqual(linked);
    expect(disconnect(linked, "a", "b").find((n) => n.id === "a")?.next_node_ids).toEqual([
      "code_1",
    ]);
  });

  it("removes nodes with their edges, parallel branches included", () => {
    const withParallel = [
      ...base,
      {
        id: "p",
        type: "parallel",
        definition: {
          nodes: [
            { id: "p1", type: "code" },
            { id: "p2", type: "code" },
          ],
        },
      },
    ];
    const out = removeNodes(withParallel, ["b", "p1"]);
    expect(out.map((n) => n.id)).toEqual(["a", "p"]);
    expect(out[0]?.next_node_ids).toEqual([]);
    expect(((out[1]?.definition?.nodes ?? []) as OrchestrationNode[]).map((n) => n.id)).toEqual([
      "p2",
    ]);
  });

  it("renaming a node rewrites the edges to it", () => {
    const out = replaceNode(base, "b", { ...(base[1] as OrchestrationNode), id: "beta" });
    expect(out[0]?.next_node_ids).toEqual(["beta"]);
    expect(out[1]?.id).toBe("beta");
  });

  it("diffs two definitions node by node", () => {
    const edited = replaceNode(base, "b", { ...(base[1] as OrchestrationNode), name: "B" });
    const { nodes } = addNode(edited, "agent");
    expect(diffNodes(base, removeNodes(nodes, ["a"]))).toEqual([
      { id: "b", change: "changed", fields: ["name"] },
      { id: "agent_1", change: "added", fields: [] },
      { id: "a", change: "removed", fields: [] },
    ]);
    expect(diffNodes(base, structuredClone(base))).toEqual([]);
  });
});

describe("diffMarks", () => {
  const changes = [
    { id: "new", change: "added" as const, fields: [] },
    { id: "gone", change: "removed" as const, fields: [] },
    { id: "edited", change: "changed" as const, fields: ["definition"] },
  ];
  it("marks the draft's added and changed nodes", () => {
    expect(diffMarks(changes, "draft")).toEqual({ new: "added", edited: "changed" });
  });
  it("marks the deployed version's removed and changed nodes", () => {
    expect(diffMarks(changes, "deployed")).toEqual({ gone: "removed", edited: "changed" });
  });
});
