import {
  Background,
  type Connection,
  Controls,
  type Edge,
  Handle,
  MarkerType,
  type Node,
  type NodeProps,
  Position,
  ReactFlow,
} from "@xyflow/react";
import { memo, useEffect, useMemo, useRef, useState } from "react";
import type { OrchestrationNode } from "../api/types";
import { END_ID, layoutWorkflow, START_ID } from "../lib/layout";
import { formatDuration, type NodeView, type RunView } from "../lib/runState";

interface CardData extends Record<string, unknown> {
  label: string;
  nodeType: string;
  view?: NodeView;
  now: number;
  invalid?: string;
  /** this node ran a sub-task: selecting it opens the sub-task */
  drill?: boolean;
  /** open that sub-task (the button on the card) */
  onDrill?: () => void;
  /** how the node differs from the definition compared with */
  mark?: NodeMark;
}
export type NodeMark = "added" | "removed" | "changed";
type CardNode = Node<CardData, "card">;
type GroupNode = Node<CardData, "group">;
type EndNode = Node<CardData, "terminal">;

const ICONS: Record<string, string> = {
  code: "ƒ",
  agent: "◎",
  classifier: "⑂",
  guardrail: "◈",
  summarizer: "≡",
  parallel: "⇉",
  node_pointer: "↺",
  send_to_end: "⇥",
  wait: "⏸",
};

function duration(view: NodeView | undefined, now: number): string {
  if (!view) return "";
  if (view.state === "running" && view.startedAt !== null)
    return formatDuration(now - view.startedAt);
  return formatDuration(view.durationMs);
}

const Card = memo(function Card({ data, selected }: NodeProps<CardNode>) {
  const state = data.view?.state;
  return (
    <div
      className={`node-card ${state ? `st-${state}` : ""} ${selected ? "selected" : ""} ${data.invalid ? "invalid" : ""} ${data.mark ? `diff-${data.mark}` : ""}`}
      data-testid={`node-${data.label}`}
      data-state={state ?? ""}
      data-diff={data.mark ?? undefined}
      title={data.invalid ?? data.view?.error ?? undefined}
    >
      <Handle type="target" position={Position.Left} />
      <div className="node-head">
        <span className="node-icon" aria-hidden>
          {ICONS[data.nodeType] ?? "•"}
        </span>
        <span className="node-label">{data.label}</span>
      </div>
      <div className="node-foot">
        <span className="node-type">{data.nodeType}</span>
        {state && (
          <span className="node-state">
            {state}
            {duration(data.view, data.now) && ` · ${duration(data.view, data.now)}`}
          </span>
        )}
      </div>
      {data.invalid && <div className="node-error">{data.invalid}</div>}
      {data.mark && <div className={`node-diff diff-${data.mark}`}>{data.mark}</div>}
      {data.drill &&
        (data.onDrill ? (
          <button
            type="button"
            className="node-drill link nodrag nopan"
            data-testid={`drill-${data.label}`}
            onClick={(e) => {
              e.stopPropagation();
              data.onDrill?.();
            }}
          >
            ↳ open sub-task
          </button>
        ) : (
          <div className="node-drill">↳ open sub-task</div>
        ))}
      <Handle type="source" position={Position.Right} />
    </div>
  );
});

const Group = memo(function Group({ data, selected }: NodeProps<GroupNode>) {
  const state = data.view?.state;
  return (
    <div
      className={`group-box ${state ? `st-${state}` : ""} ${selected ? "selected" : ""}`}
      data-testid={`node-${data.label}`}
      data-state={state ?? ""}
    >
      <Handle type="target" position={Position.Left} />
      <div className="group-head">
        ⇉ {data.label} <span className="muted">parallel{state ? ` · ${state}` : ""}</span>
      </div>
      <Handle type="source" position={Position.Right} />
    </div>
  );
});

const Terminal = memo(function Terminal({ data }: NodeProps<EndNode>) {
  return (
    <div className="terminal">
      {data.label === "END" && <Handle type="target" position={Position.Left} />}
      {data.label}
      {data.label === "START" && <Handle type="source" position={Position.Right} />}
    </div>
  );
});

/** Zoom and pan that show every laid-out node, centred, never above 110 %. */
export function fitViewport(
  nodes: { x: number; y: number; width: number; height: number; parentId?: string }[],
  w: number,
  h: number,
) {
  const top = nodes.filter((n) => !n.parentId);
  if (top.length === 0 || w === 0 || h === 0) return { x: 0, y: 0, zoom: 1 };
  const minX = Math.min(...top.map((n) => n.x));
  const minY = Math.min(...top.map((n) => n.y));
  const maxX = Math.max(...top.map((n) => n.x + n.width));
  const maxY = Math.max(...top.map((n) => n.y + n.height));
  const pad = 32;
  const zoom = Math.max(
    Math.min((w - 2 * pad) / (maxX - minX), (h - 2 * pad) / (maxY - minY), 1.1),
    0.1,
  );
  return {
    x: (w - (maxX - minX) * zoom) / 2 - minX * zoom,
    y: (h - (maxY - minY) * zoom) / 2 - minY * zoom,
    zoom,
  };
}

const nodeTypes = { card: Card, group: Group, terminal: Terminal };

export interface CanvasProps {
  nodes: OrchestrationNode[];
  run?: RunView | null;
  editable?: boolean;
  selected?: string | null;
  invalid?: { nodeId: string; message: string } | null;
  onSelect?: (id: string | null) => void;
  onConnect?: (source: string, target: string) => void;
  onDeleteNodes?: (ids: string[]) => void;
  onDeleteEdge?: (source: string, target: string) => void;
  /** node id -> the sub-task it ran (a task's view) */
  drill?: Record<string, string>;
  /** with `drill`: a button on such a node opens its sub-task */
  onDrill?: (nodeId: string) => void;
  /** node id -> how it differs from a compared definition */
  marks?: Record<string, NodeMark>;
}

export function Canvas({
  nodes,
  run,
  editable,
  selected,
  invalid,
  onSelect,
  onConnect,
  onDeleteNodes,
  onDeleteEdge,
  drill,
  onDrill,
  marks,
}: CanvasProps) {
  const laid = useMemo(() => layoutWorkflow(nodes), [nodes]);
  // fit the graph in view ourselves: the layout knows its bounds, the wrapper its size
  const box = useRef<HTMLDivElement>(null);
  const [size, setSize] = useState<{ w: number; h: number } | null>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = () => setSize({ w: el.clientWidth, h: el.clientHeight });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  const viewport = useMemo(
    () => (size ? fitViewport(laid.nodes, size.w, size.h) : null),
    [laid, size],
  );
  const shape = laid.nodes.map((n) => n.id).join("|");
  const anyRunning = run ? Object.values(run.nodes).some((n) => n.state === "running") : false;
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!anyRunning) return;
    const timer = setInterval(() => setNow(Date.now()), 100);
    return () => clearInterval(timer);
  }, [anyRunning]);

  const flowNodes = useMemo<Node<CardData>[]>(
    () =>
      laid.nodes.map((n) => ({
        id: n.id,
        type: n.kind === "group" ? "group" : n.kind === "node" ? "card" : "terminal",
        position: { x: n.x, y: n.y },
        width: n.width,
        height: n.height,
        style: n.kind === "group" ? { width: n.width, height: n.height } : undefined,
        parentId: n.parentId,
        extent: n.parentId ? ("parent" as const) : undefined,
        selectable: n.kind === "node" || n.kind === "group",
        deletable: Boolean(editable) && (n.kind === "node" || n.kind === "group"),
        connectable: Boolean(editable),
        selected: n.id === selected,
        data: {
          label: n.label,
          nodeType: n.type,
          view: run?.nodes[n.id],
          now,
          invalid: invalid?.nodeId === n.id ? invalid.message : undefined,
          drill: Boolean(drill?.[n.id]),
          onDrill: drill?.[n.id] && onDrill ? () => onDrill(n.id) : undefined,
          mark: marks?.[n.id],
        },
      })),
    [laid, run, now, selected, editable, invalid, drill, onDrill, marks],
  );
  const flowEdges = useMemo<Edge[]>(
    () =>
      laid.edges.map((e) => {
        const done =
          run?.nodes[e.source]?.state === "completed" &&
          (e.target === END_ID || run?.nodes[e.target]?.state !== "pending");
        return {
          id: e.id,
          source: e.source,
          target: e.target,
          label: e.label,
          animated: run?.nodes[e.source]?.state === "running",
          deletable: Boolean(editable) && e.kind === "flow",
          className: `edge-${e.kind} ${done ? "edge-done" : ""}`,
          markerEnd: { type: MarkerType.ArrowClosed },
          labelBgPadding: [6, 3] as [number, number],
          labelBgBorderRadius: 4,
          style: e.kind === "pointer" ? { strokeDasharray: "5 4" } : undefined,
        };
      }),
    [laid, run, editable],
  );

  return (
    <div className="canvas" data-testid="canvas" ref={box}>
      {viewport && (
        <ReactFlow
          nodes={flowNodes}
          edges={flowEdges}
          nodeTypes={nodeTypes}
          key={`${shape}@${size?.w}x${size?.h}`}
          defaultViewport={viewport ?? undefined}
          minZoom={0.1}
          nodesDraggable={false}
          nodesConnectable={Boolean(editable)}
          edgesFocusable
          nodesFocusable
          deleteKeyCode={editable ? ["Delete", "Backspace"] : null}
          onNodeClick={(_e, node) =>
            onSelect?.(node.id === START_ID || node.id === END_ID ? null : node.id)
          }
          onPaneClick={() => onSelect?.(null)}
          onNodesChange={(changes) => {
            // keyboard selection (Tab to a node, Enter) arrives as a change, not a click
            for (const c of changes)
              if (c.type === "select" && c.selected && c.id !== START_ID && c.id !== END_ID)
                onSelect?.(c.id);
          }}
          onConnect={(c: Connection) => {
            if (c.source && c.target && c.source !== START_ID && c.target !== END_ID)
              onConnect?.(c.source, c.target);
          }}
          onNodesDelete={(deleted) => onDeleteNodes?.(deleted.map((n) => n.id))}
          onEdgesDelete={(deleted) => {
            for (const e of deleted) onDeleteEdge?.(e.source, e.target);
          }}
          proOptions={{ hideAttribution: true }}
        >
          <Background gap={18} />
          <Controls showInteractive={false} />
        </ReactFlow>
      )}
    </div>
  );
}
