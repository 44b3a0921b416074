import type { OrchestrationNode } from "../api/types";
import { branchesOf } from "./layout";

// Edits on the canvas are edits of the definition (`orchestration_nodes`), the one source of
// truth; the canvas is laid out again from it. Every function here is pure.

export const NODE_TYPES = [
  "code",
  "agent",
  "classifier",
  "guardrail",
  "summarizer",
  "parallel",
  "node_pointer",
  "send_to_end",
] as const;

export function templateFor(type: string, id: string): OrchestrationNode {
  const base = { id, type, name: id, next_node_ids: [] as string[] };
  switch (type) {
    case "code":
      return { ...base, definition: { code: "def main(input):\n    return input\n" } };
    case "agent":
      return { ...base, definition: { instructions: "" } };
    case "classifier":
      return {
        ...base,
        definition: {
          groups: [
            { id: "yes", name: "yes", evaluation_criteria: "" },
            { id: "no", name: "no", evaluation_criteria: "" },
          ],
        },
      };
    case "guardrail":
    case "summarizer":
      return { ...base, definition: { instructions: "" } };
    case "parallel":
      return {
        ...base,
        definition: {
          nodes: [
            {
              id: `${id}_a`,
              type: "code",
              name: "a",
              definition: { code: "def main(input):\n    return input\n" },
            },
            {
              id: `${id}_b`,
              type: "code",
              name: "b",
              definition: { code: "def main(input):\n    return input\n" },
            },
          ],
        },
      };
    case "node_pointer":
      return { ...base, definition: { source_node_id: "" } };
    case "send_to_end":
      return { ...base, definition: {} };
    default:
      return { ...base, definition: {} };
  }
}

export function everyId(nodes: OrchestrationNode[]): Set<string> {
  const ids = new Set<string>();
  for (const node of nodes) {
    ids.add(node.id);
    for (const branch of branchesOf(node)) ids.add(branch.id);
  }
  return ids;
}

export function freshId(nodes: OrchestrationNode[], type: string): string {
  const taken = everyId(nodes);
  for (let i = 1; ; i++) {
    const id = `${type}_${i}`;
    if (!taken.has(id) && !taken.has(`${id}_a`)) return id;
  }
}

/** Add a node; after `after` (if given) so that it joins the flow at once. */
export function addNode(
  nodes: OrchestrationNode[],
  type: string,
  after?: string | null,
): { nodes: OrchestrationNode[]; id: string } {
  const id = freshId(nodes, type);
  let next = nodes.map((n) =>
    after && n.id === after ? { ...n, next_node_ids: [...(n.next_node_ids ?? []), id] } : n,
  );
  next = [...next, templateFor(type, id)];
  return { nodes: next, id };
}

/** Would an edge source -> target close a cycle (the server forbids them)? */
export function wouldCycle(nodes: OrchestrationNode[], source: string, target: string): boolean {
  if (source === target) return true;
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const stack = [target];
  const seen = new Set<string>();
  while (stack.length) {
    const at = stack.pop() as string;
    if (at === source) return true;
    if (seen.has(at)) continue;
    seen.add(at);
    stack.push(...(byId.get(at)?.next_node_ids ?? []));
  }
  return false;
}

export function connect(
  nodes: OrchestrationNode[],
  source: string,
  target: string,
): OrchestrationNode[] {
  const top = new Set(nodes.map((n) => n.id));
  if (!top.has(source) || !top.has(target) || wouldCycle(nodes, source, target)) return nodes;
  return nodes.map((n) =>
    n.id === source && !(n.next_node_ids ?? []).includes(target)
      ? { ...n, next_node_ids: [...(n.next_node_ids ?? []), target] }
      : n,
  );
}

export function disconnect(
  nodes: OrchestrationNode[],
  source: string,
  target: string,
): OrchestrationNode[] {
  return nodes.map((n) =>
    n.id === source
      ? { ...n, next_node_ids: (n.next_node_ids ?? []).filter((t) => t !== target) }
      : n,
  );
}

/** Remove nodes (top nodes or parallel branches) and every edge to them. */
export function removeNodes(nodes: OrchestrationNode[], ids: string[]): OrchestrationNode[] {
  const gone = new Set(ids);
  return nodes
    .filter((n) => !gone.has(n.id))
    .map((n) => {
      const next = (n.next_node_ids ?? []).filter((t) => !gone.has(t));
      if (n.type !== "parallel") return { ...n, next_node_ids: next };
      const branches = branchesOf(n).filter((b) => !gone.has(b.id));
      return { ...n, next_node_ids: next, definition: { ...n.definition, nodes: branches } };
    });
}

export function findNode(nodes: OrchestrationNode[], id: string): OrchestrationNode | null {
  for (const node of nodes) {
    if (node.id === id) return node;
    for (const branch of branchesOf(node)) if (branch.id === id) return branch;
  }
  return null;
}

/** Replace one node (top or branch) by `updated`; a changed id is renamed in every edge. */
export function replaceNode(
  nodes: OrchestrationNode[],
  id: string,
  updated: OrchestrationNode,
): OrchestrationNode[] {
  const rename = (t: string) => (t === id ? updated.id : t);
  return nodes.map((n) => {
    const base = n.id === id ? updated : n;
    const next = { ...base, next_node_ids: (base.next_node_ids ?? []).map(rename) };
    if (base.type === "node_pointer" && base.definition?.source_node_id === id)
      next.definition = { ...base.definition, source_node_id: updated.id };
    if (base.type === "parallel" && n.id !== id) {
      const branches = branchesOf(base);
      if (branches.some((b) => b.id === id))
        next.definition = {
          ...base.definition,
          nodes: branches.map((b) => (b.id === id ? updated : b)),
        };
    }
    return next;
  });
}

export interface NodeChange {
  id: string;
  change: "added" | "removed" | "changed";
  fields: string[];
}

function stable(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );
}

/** What differs between two definitions, node by node (parallel branches included). */
export function diffNodes(before: OrchestrationNode[], after: OrchestrationNode[]): NodeChange[] {
  const flat = (nodes: OrchestrationNode[]) => {
    const map = new Map<string, OrchestrationNode>();
    for (const n of nodes) {
      map.set(
        n.id,
        n.type === "parallel"
          ? { ...n, definition: { ...n.definition, nodes: branchesOf(n).map((b) => b.id) } }
          : n,
      );
      for (const b of branchesOf(n)) map.set(b.id, b);
    }
    return map;
  };
  const a = flat(before);
  const b = flat(after);
  const out: NodeChange[] = [];
  for (const [id, node] of b) {
    const old = a.get(id);
    if (!old) {
      out.push({ id, change: "added", fields: [] });
      continue;
    }
    const keys = new Set([...Object.keys(old), ...Object.keys(node)]);
    const fields = [...keys]
      .filter((k) => stable(old[k] ?? null) !== stable(node[k] ?? null))
      .sort();
    if (fields.length) out.push({ id, change: "changed", fields });
  }
  for (const id of a.keys()) if (!b.has(id)) out.push({ id, change: "removed", fields: [] });
  return out;
}

/** Canvas marks for a diff from `diffNodes(deployed, draft)`: drawing the draft, its added
 * and changed nodes; drawing the deployed version, its removed and changed ones. */
export function diffMarks(
  changes: NodeChange[],
  drawn: "draft" | "deployed",
): Record<string, "added" | "removed" | "changed"> {
  const marks: Record<string, "added" | "removed" | "changed"> = {};
  for (const c of changes) {
    if (c.change === "changed") marks[c.id] = "changed";
    else if (c.change === "added" && drawn === "draft") marks[c.id] = "added";
    else if (c.change === "removed" && drawn === "deployed") marks[c.id] = "removed";
  }
  return marks;
}
