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

const SUB_TASK_KEYS = ["asset_id", "agent_id", "target_agent_id", "workflow_id"] as const;

/** node id -> the agent (an `agent` node) or workflow (an `orchestration` node) it runs as a
 * sub-task, under the names the server accepts for it. */
export function subTaskTargets(nodes: OrchestrationNode[]): Record<string, string> {
  const found: Record<string, string> = {};
  const visit = (node: OrchestrationNode) => {
    if (node.type === "agent" || node.type === "orchestration") {
      const named = SUB_TASK_KEYS.map((k) => node.definition?.[k]).find(
        (v) => typeof v === "string",
      );
      if (typeof named === "string") found[node.id] = named;
    }
  };
  for (const node of nodes) {
    visit(node);
    if (node.type === "parallel") for (const b of branchesOf(node)) visit(b);
  }
  return found;
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

const RANK_SEP = 100;
const NODE_SEP = 36;
const MARGIN = 20;
type Size = { width: number; height: number };

/** Layered left-to-right placement of a DAG (what dagre did for us, at a fraction of its
 * cost: ~1 ms for 200 nodes instead of ~100-200 ms): a node's column is its longest path from
 * the sources; within a column nodes are ordered by their predecessors' rows (a few barycenter
 * sweeps) and placed as near those rows as the spacing allows. Returns centers. */
export function placeLayers(
  order: string[],
  edges: [string, string][],
  sizes: Map<string, Size>,
  pinnedFirst?: string,
): Map<string, { x: number; y: number }> {
  const preds = new Map<string, string[]>(order.map((id) => [id, []]));
  const succs = new Map<string, string[]>(order.map((id) => [id, []]));
  for (const [a, b] of edges) {
    if (!preds.has(a) || !preds.has(b) || a === b) continue;
    preds.get(b)?.push(a);
    succs.get(a)?.push(b);
  }
  // topological order (Kahn); what a cycle in stored data leaves over goes last, as it came
  const indegree = new Map(order.map((id) => [id, preds.get(id)?.length ?? 0]));
  const queue = order.filter((id) => indegree.get(id) === 0);
  const topo: string[] = [];
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i] as string;
    topo.push(id);
    for (const next of succs.get(id) ?? []) {
      const left = (indegree.get(next) ?? 0) - 1;
      indegree.set(next, left);
      if (left === 0) queue.push(next);
    }
  }
  const seen = new Set(topo);
  for (const id of order) if (!seen.has(id)) topo.push(id);
  // columns: the longest path from a source; sources other than the pinned one start at 1
  const rank = new Map<string, number>();
  for (const id of topo) {
    let r = pinnedFirst && id !== pinnedFirst && (preds.get(id) ?? []).length === 0 ? 1 : 0;
    for (const p of preds.get(id) ?? []) if (rank.has(p)) r = Math.max(r, (rank.get(p) ?? 0) + 1);
    rank.set(id, r);
  }
  const columns: string[][] = [];
  for (const id of topo) {
    const r = rank.get(id) ?? 0;
    while (columns.length <= r) columns.push([]);
    columns[r]?.push(id);
  }
  // rows: order each column by its predecessors' mean row, sweeping left to right
  const row = new Map<string, number>();
  for (const column of columns)
    column.forEach((id, i) => {
      row.set(id, i);
    });
  for (let sweep = 0; sweep < 2; sweep++)
    for (const column of columns) {
      const key = (id: string) => {
        const ps = (preds.get(id) ?? []).filter((p) => row.has(p));
        return ps.length
          ? ps.reduce((s, p) => s + (row.get(p) ?? 0), 0) / ps.length
          : (row.get(id) ?? 0);
      };
      const keyed = column.map((id) => [id, key(id)] as const).sort((a, b) => a[1] - b[1]);
      keyed.forEach(([id], i) => {
        column[i] = id;
        row.set(id, i);
      });
    }
  // y: as near the predecessors' centers as spacing allows; x: column by column
  const at = new Map<string, { x: number; y: number }>();
  let x = MARGIN;
  for (const column of columns) {
    const width = Math.max(...column.map((id) => sizes.get(id)?.width ?? NODE_W));
    const wanted = column.map((id) => {
      const ps = (preds.get(id) ?? []).filter((p) => at.has(p));
      return ps.length ? ps.reduce((s, p) => s + (at.get(p)?.y ?? 0), 0) / ps.length : 0;
    });
    const height = (id: string) => sizes.get(id)?.height ?? NODE_H;
    // stack in order with the minimum gap, then shift the stack to sit on what was wanted
    const ys: number[] = [];
    column.forEach((id, i) => {
      const prev = i > 0 ? column[i - 1] : undefined;
      const min =
        prev === undefined
          ? Number.NEGATIVE_INFINITY
          : (ys[i - 1] ?? 0) + height(prev) / 2 + NODE_SEP + height(id) / 2;
      ys.push(Math.max(wanted[i] ?? 0, min));
    });
    const shift =
      wanted.reduce((s, w) => s + w, 0) / column.length -
      ys.reduce((s, y) => s + y, 0) / column.length;
    column.forEach((id, i) => {
      at.set(id, { x: x + width / 2, y: (ys[i] ?? 0) + shift });
    });
    x += width + RANK_SEP;
  }
  // everything below the top margin
  const top = Math.min(
    ...order.map((id) => (at.get(id)?.y ?? 0) - (sizes.get(id)?.height ?? 0) / 2),
  );
  for (const p of at.values()) p.y += MARGIN - top;
  return at;
}

/** Lay the workflow out left to right. A START block points at the entry node and nodes
 * without a next node point at END, as on xpander's canvas. */
export function layoutWorkflow(nodes: OrchestrationNode[]): {
  nodes: LaidNode[];
  edges: LaidEdge[];
} {
  const sizes = new Map<string, Size>();
  sizes.set(START_ID, { width: 90, height: 40 });
  for (const node of nodes) {
    sizes.set(
      node.id,
      node.type === "parallel" ? groupSize(node) : { width: NODE_W, height: NODE_H },
    );
  }
  sizes.set(END_ID, { width: 90, height: 40 });
  const links: [string, string][] = [];

  const edges: LaidEdge[] = [];
  const ids = new Set(nodes.map((n) => n.id));
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const entry = entryOf(nodes);
  if (entry) {
    edges.push({ id: `${START_ID}->${entry}`, source: START_ID, target: entry, kind: "start" });
    links.push([START_ID, entry]);
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
      links.push([node.id, target]);
    }
    if (next.length === 0 && node.type !== "node_pointer") {
      edges.push({ id: `${node.id}->${END_ID}`, source: node.id, target: END_ID, kind: "end" });
      links.push([node.id, END_ID]);
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
  if (nodes.length === 0) links.push([START_ID, END_ID]);
  const ends = links.some(([, target]) => target === END_ID);
  const placed = [...sizes.keys()].filter((id) => id !== END_ID || ends);
  const centers = placeLayers(placed, links, sizes, START_ID);

  const laid: LaidNode[] = [];
  const place = (id: string) => {
    const at = centers.get(id) ?? { x: 0, y: 0 };
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
