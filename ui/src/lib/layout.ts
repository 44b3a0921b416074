import dagre from "@dagrejs/dagre";
import type { Condition, OrchestrationNode } from "../api/types";

/** What the canvas draws, independent of React: positions are top-left corners, children of a
 * group (a parallel node's branches) are relative to the group. */
export interface LaidNode {
  id: string;
  kind: "start" | "end" | "node" | "group";
  type: string;
  label: string;
  x: number;
  y: number;
  width: number;
  height: number;
  parentId?: string;
  node?: OrchestrationNode;
}

export interface LaidEdge {
  id: string;
  source: string;
  target: string;
  label?: string;
  kind: "flow" | "pointer" | "start" | "end";
}

export const NODE_W = 210;
export const NODE_H = 62;
const BRANCH_GAP = 12;
const GROUP_PAD = 14;
const GROUP_HEAD = 30;
export const START_ID = "__start__";
export const END_ID = "__end__";

export function conditionLabel(condition: Condition | null | undefined): string | undefined {
  if (!condition?.type) return undefined;
  const operand = condition.value ?? condition.term ?? "";
  const at = condition.path ? `${condition.path} ` : "";
  switch (condition.type) {
    case "else":
      return "else";
    case "not_empty":
      return `${at}not empty`;
    case "regex":
      return `${at}~ /${String(operand)}/`;
    case "contains":
      return `${at}contains ${JSON.stringify(operand)}`;
    default: {
      const ops: Record<string, string> = {
        equal: "=",
        not_equal: "≠",
        gt: ">",
        lt: "<",
        gte: "≥",
        lte: "≤",
      };
      if (condition.group_id && operand === "") return `route ${condition.group_id}`;
      return `${at}${ops[condition.type] ?? condition.type} ${JSON.stringify(operand)}`;
    }
  }
}

export function branchesOf(node: OrchestrationNode): OrchestrationNode[] {
  const children = node.definition?.nodes;
  return Array.isArray(children) ? (children as OrchestrationNode[]) : [];
}

/** Every node id that can report a state: top nodes and parallel branches. */
export function allNodeIds(nodes: OrchestrationNode[]): string[] {
  const ids: string[] = [];
  for (const node of nodes) {
    ids.push(node.id);
    if (node.type === "parallel") ids.push(...branchesOf(node).map((b) => b.id));
  }
  return ids;
}

/** The entry node as the server picks it: the first that no edge points at. */
export function entryOf(nodes: OrchestrationNode[]): string | null {
  const targets = new Set(nodes.flatMap((n) => n.next_node_ids ?? []));
  return nodes.find((n) => !targets.has(n.id))?.id ?? null;
}

function groupSize(node: OrchestrationNode): { width: number; height: number } {
  const n = Math.max(branchesOf(node).length, 1);
  return {
    width: NODE_W + 2 * GROUP_PAD,
    height: GROUP_HEAD + n * NODE_H + (n - 1) * BRANCH_GAP + GROUP_PAD,
  };
}

/** Lay the workflow out left to right (dagre). A START block points at the entry node and
 * nodes without a next node point at END, as on xpander's canvas. */
export function layoutWorkflow(nodes: OrchestrationNode[]): {
  nodes: LaidNode[];
  edges: LaidEdge[];
} {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 36, ranksep: 100, marginx: 20, marginy: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  const sizes = new Map<string, { width: number; height: number }>();
  sizes.set(START_ID, { width: 90, height: 40 });
  sizes.set(END_ID, { width: 90, height: 40 });
  for (const node of nodes) {
    sizes.set(
      node.id,
      node.type === "parallel" ? groupSize(node) : { width: NODE_W, height: NODE_H },
    );
  }
  for (const [id, size] of sizes) g.setNode(id, { ...size });

  const edges: LaidEdge[] = [];
  const ids = new Set(nodes.map((n) => n.id));
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const entry = entryOf(nodes);
  if (entry) {
    edges.push({ id: `${START_ID}->${entry}`, source: START_ID, target: entry, kind: "start" });
    g.setEdge(START_ID, entry);
  }
  for (const node of nodes) {
    const next = (node.next_node_ids ?? []).filter((t) => ids.has(t));
    for (const target of next) {
      edges.push({
        id: `${node.id}->${target}`,
        source: node.id,
        target,
        label: conditionLabel(byId.get(target)?.condition),
        kind: "flow",
      });
      g.setEdge(node.id, target);
    }
    if (next.length === 0 && node.type !== "node_pointer") {
      edges.push({ id: `${node.id}->${END_ID}`, source: node.id, target: END_ID, kind: "end" });
      g.setEdge(node.id, END_ID);
    }
    if (node.type === "node_pointer") {
      const source = String(node.definition?.source_node_id ?? "");
      if (ids.has(source))
        edges.push({
          id: `${node.id}~>${source}`,
          source: node.id,
          target: source,
          label: "jump",
          kind: "pointer",
        });
    }
  }
  if (nodes.length === 0) g.setEdge(START_ID, END_ID);
  dagre.layout(g);

  const laid: LaidNode[] = [];
  const place = (id: string) => {
    const at = g.node(id);
    const size = sizes.get(id) ?? { width: NODE_W, height: NODE_H };
    return { x: at.x - size.width / 2, y: at.y - size.height / 2, ...size };
  };
  laid.push({ id: START_ID, kind: "start", type: "start", label: "START", ...place(START_ID) });
  for (const node of nodes) {
    const label = node.name || node.id;
    if (node.type === "parallel") {
      laid.push({ id: node.id, kind: "group", type: "parallel", label, node, ...place(node.id) });
      branchesOf(node).forEach((branch, i) => {
        laid.push({
          id: branch.id,
          kind: "node",
          type: branch.type,
          label: branch.name || branch.id,
          node: branch,
          parentId: node.id,
          x: GROUP_PAD,
          y: GROUP_HEAD + i * (NODE_H + BRANCH_GAP),
          width: NODE_W,
          height: NODE_H,
        });
      });
    } else {
      laid.push({ id: node.id, kind: "node", type: node.type, label, node, ...place(node.id) });
    }
  }
  // END only where something flows into it (a workflow ending in a pointer jumps instead)
  if (nodes.length === 0 || edges.some((e) => e.kind === "end"))
    laid.push({ id: END_ID, kind: "end", type: "end", label: "END", ...place(END_ID) });
  return { nodes: laid, edges };
}
