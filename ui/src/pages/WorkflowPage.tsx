import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { ApiError, client, nodeOfError, type RunVersion } from "../api/client";
import { take } from "../api/prefetch";
import {
  type Condition,
  type DeployedVersion,
  type OrchestrationNode,
  TERMINAL,
  type Workflow,
} from "../api/types";
import { ApprovalPanel } from "../components/Approval";
import { Canvas } from "../components/Canvas";
import { ErrorBanner, StatusBadge, useLoad } from "../components/common";
import { Link } from "../components/Link";
import { type DrillLevel, SubTaskView } from "../components/SubTaskView";
import {
  addNode,
  connect,
  diffMarks,
  diffNodes,
  disconnect,
  findNode,
  NODE_TYPES,
  removeNodes,
  replaceNode,
} from "../lib/graphEdit";
import { jsonDiff } from "../lib/jsonDiff";
import { allNodeIds, subTaskTargets } from "../lib/layout";
import { formatDuration } from "../lib/runState";
import { useRun } from "../lib/useRun";
import { navigate } from "../router";

const CodeEditor = lazy(() => import("../components/CodeEditor"));

type Tab = "run" | "node" | "changes";

export function WorkflowPage({ id }: { id: string }) {
  const {
    data: workflow,
    error: loadError,
    setData,
  } = useLoad(() => take(`workflow:${id}`, () => client.getWorkflow(id)), [id]);
  const [nodes, setNodes] = useState<OrchestrationNode[]>([]);
  const [saved, setSaved] = useState<OrchestrationNode[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [tab, setTab] = useState<Tab>("run");
  const [error, setError] = useState<unknown>(null);
  const [invalid, setInvalid] = useState<{ nodeId: string; message: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [addType, setAddType] = useState("code");
  const [notice, setNotice] = useState("");
  // a deployed version drawn read-only instead of the draft, and the one the draft is compared with
  const [viewing, setViewing] = useState<DeployedVersion | null>(null);
  const [deployed, setDeployed] = useState<DeployedVersion | null>(null);
  const [showDiff, setShowDiff] = useState(false);

  useEffect(() => {
    if (workflow) {
      setNodes(workflow.orchestration_nodes ?? []);
      setSaved(workflow.orchestration_nodes ?? []);
    }
  }, [workflow]);

  const ids = useMemo(() => allNodeIds(nodes), [nodes]);
  const targets = useMemo(() => subTaskTargets(nodes), [nodes]);
  const run = useRun(ids, targets);
  // the sub-tasks drilled into from the run's canvas, outermost first; empty: the run itself
  const [trail, setTrail] = useState<DrillLevel[]>([]);
  const subTaskOf = run.view?.subTaskOf;
  const subTasks = useRef(subTaskOf);
  subTasks.current = subTaskOf;
  const openSubTask = useCallback((nodeId: string) => {
    const child = subTasks.current?.[nodeId];
    if (child) setTrail([{ taskId: child, nodeId }]);
  }, []);
  const runId = run.view?.task?.id;
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new run closes the drill-down
  useEffect(() => setTrail([]), [runId]);
  const changes = useMemo(() => diffNodes(saved, nodes), [saved, nodes]);
  const dirty = changes.length > 0;
  const deployedNodes = deployed?.orchestration_nodes ?? null;
  const fromDeployed = useMemo(
    () => (deployedNodes ? diffNodes(deployedNodes, nodes) : []),
    [deployedNodes, nodes],
  );
  const marks = useMemo(
    () => (showDiff ? diffMarks(fromDeployed, viewing ? "deployed" : "draft") : undefined),
    [showDiff, fromDeployed, viewing],
  );
  // the latest deployed version, for comparing; again after every deploy
  const latest = workflow?.version ?? 0;
  useEffect(() => {
    setDeployed(null);
    if (!latest) return;
    client.getVersion(id, latest).then(setDeployed, setError);
  }, [id, latest]);

  if (loadError)
    return (
      <div className="page">
        <ErrorBanner error={loadError} />
        <Link href="/workflows">Back to workflows</Link>
      </div>
    );
  if (!workflow) return <div className="page muted">Loading…</div>;

  const select = (nodeId: string | null) => {
    setSelected(nodeId);
    if (nodeId) setTab("node");
  };

  const save = async (deploy: boolean) => {
    setBusy(true);
    setError(null);
    setInvalid(null);
    setNotice("");
    try {
      let updated: Workflow;
      if (dirty)
        updated = await client.saveWorkflow(id, { orchestration_nodes: nodes } as never, deploy);
      else if (deploy) updated = await client.deployWorkflow(id);
      else return;
      setData(updated);
      setNotice(deploy ? `Deployed version ${updated.version}` : "Draft saved");
    } catch (err) {
      setError(err);
      if (err instanceof ApiError) {
        const nodeId = nodeOfError(err.message, allNodeIds(nodes));
        if (nodeId) {
          setInvalid({ nodeId, message: err.message });
          setSelected(nodeId);
        }
      }
    } finally {
      setBusy(false);
    }
  };

  const add = () => {
    const result = addNode(
      nodes,
      addType,
      selected && nodes.some((n) => n.id === selected) ? selected : null,
    );
    setNodes(result.nodes);
    select(result.id);
  };

  const drawn = viewing ? (viewing.orchestration_nodes ?? []) : nodes;
  const selectedNode = selected ? findNode(drawn, selected) : null;
  const view = async (value: string) => {
    setError(null);
    setSelected(null);
    if (value === "draft") {
      setViewing(null);
      return;
    }
    try {
      setViewing(await client.getVersion(id, Number(value)));
    } catch (err) {
      setError(err);
    }
  };

  return (
    <div className="workflow-page">
      <div className="toolbar">
        <Link href="/workflows" className="muted">
          Workflows
        </Link>
        <span className="muted">/</span>
        <h1>{workflow.name}</h1>
        <span className="pill" title="Latest deployed version">
          {workflow.version ? `v${workflow.version}` : "not deployed"}
        </span>
        {workflow.has_pending_changes && <span className="pill warn">draft pending</span>}
        {dirty && (
          <span className="pill warn" data-testid="unsaved">
            unsaved changes ({changes.length})
          </span>
        )}
        <span className="spacer" />
        <label className="inline">
          <span className="sr-only">Version shown</span>
          <select
            aria-label="Version shown"
            value={viewing ? String(viewing.version) : "draft"}
            onChange={(e) => void view(e.target.value)}
          >
            <option value="draft">draft (editable)</option>
            {Array.from({ length: workflow.version }, (_, i) => workflow.version - i).map((v) => (
              <option key={v} value={v}>
                v{v}
                {v === workflow.version ? " (latest)" : ""} · read-only
              </option>
            ))}
          </select>
        </label>
        {workflow.version > 0 && (
          <label className="inline" title="Mark what the draft changes from the deployed version">
            <input
              type="checkbox"
              checked={showDiff}
              onChange={(e) => setShowDiff(e.target.checked)}
            />{" "}
            Diff vs v{workflow.version}
          </label>
        )}
        <label className="inline">
          <span className="sr-only">Node type to add</span>
          <select
            value={addType}
            onChange={(e) => setAddType(e.target.value)}
            aria-label="Node type to add"
          >
            {NODE_TYPES.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <button
          type="button"
          onClick={add}
          disabled={Boolean(viewing)}
          title="Add a node (after the selected one)"
        >
          + Add node
        </button>
        <button
          type="button"
          onClick={() => void save(false)}
          disabled={busy || !dirty || Boolean(viewing)}
        >
          Save draft
        </button>
        <button
          type="button"
          className="primary"
          onClick={() => void save(true)}
          disabled={
            busy ||
            Boolean(viewing) ||
            (!dirty && !workflow.has_pending_changes && workflow.version > 0)
          }
        >
          Deploy
        </button>
      </div>
      {(error || notice) && (
        <div className="toolbar-messages">
          <ErrorBanner error={error} onClose={() => setError(null)} />
          {notice && !error && (
            <div className="notice" role="status">
              {notice}
            </div>
          )}
        </div>
      )}
      {viewing && (
        <div className="readonly-banner" role="status" data-testid="viewing-version">
          Viewing deployed version {viewing.version}
          {viewing.is_latest ? " (latest)" : ""}, read-only
          {showDiff ? ": marked nodes differ from the draft" : ""}.
          <button type="button" onClick={() => void view("draft")}>
            Back to the draft
          </button>
        </div>
      )}
      <div className="workflow-body">
        {trail.length > 0 && !viewing ? (
          <SubTaskView
            key={trail[trail.length - 1]?.taskId}
            trail={trail}
            onBack={(depth) => setTrail((t) => t.slice(0, depth))}
            onDrill={(level) => setTrail((t) => [...t, level])}
          />
        ) : (
          <Canvas
            nodes={drawn}
            run={viewing ? null : run.view}
            drill={viewing ? undefined : subTaskOf}
            onDrill={openSubTask}
            editable={!viewing}
            selected={selected}
            invalid={viewing ? null : invalid}
            marks={marks}
            onSelect={select}
            onConnect={(s, t) => setNodes((n) => connect(n, s, t))}
            onDeleteNodes={(gone) => {
              setNodes((n) => removeNodes(n, gone));
              setSelected(null);
            }}
            onDeleteEdge={(s, t) => setNodes((n) => disconnect(n, s, t))}
          />
        )}
        <aside className="side" aria-label="Workflow panel">
          <div className="tabs" role="tablist">
            {(["run", "node", "changes"] as Tab[]).map((t) => (
              <button
                key={t}
                type="button"
                role="tab"
                aria-selected={tab === t}
                className={tab === t ? "active" : ""}
                onClick={() => setTab(t)}
              >
                {t === "run"
                  ? "Run"
                  : t === "node"
                    ? "Node"
                    : `Changes${dirty ? ` (${changes.length})` : ""}`}
              </button>
            ))}
          </div>
          {tab === "run" && (
            <RunPanel workflow={workflow} run={run} dirty={dirty} onOpenSubTask={openSubTask} />
          )}
          {tab === "node" && viewing && selectedNode && (
            <div className="pad">
              <h3>
                {selectedNode.name || selectedNode.id}{" "}
                <span className="muted small">v{viewing.version}</span>
              </h3>
              <pre className="output" data-testid="version-node">
                {JSON.stringify(selectedNode, null, 2)}
              </pre>
            </div>
          )}
          {tab === "node" &&
            !viewing &&
            (selectedNode ? (
              <NodeEditor
                key={selectedNode.id}
                node={selectedNode}
                nodes={nodes}
                onChange={(updated) => {
                  setNodes((n) => replaceNode(n, selectedNode.id, updated));
                  if (updated.id !== selectedNode.id) setSelected(updated.id);
                  if (invalid?.nodeId === selectedNode.id) setInvalid(null);
                }}
                onDelete={() => {
                  setNodes((n) => removeNodes(n, [selectedNode.id]));
                  setSelected(null);
                }}
                invalid={invalid?.nodeId === selectedNode.id ? invalid.message : null}
                runError={run.view?.nodes[selectedNode.id]?.error ?? null}
              />
            ) : (
              <p className="muted pad">
                Select a node on the canvas to edit it, or add one with “+ Add node”. Connect nodes
                by dragging from a node’s right handle to another’s left handle; select an edge or
                node and press Delete to remove it.
              </p>
            ))}
          {tab === "changes" && (
            <div className="pad">
              <h3>Unsaved changes</h3>
              {changes.length === 0 ? (
                <p className="muted">The canvas matches the saved draft.</p>
              ) : (
                <ul className="changes" data-testid="changes">
                  {changes.map((c) => (
                    <li key={c.id} className={`ch-${c.change}`}>
                      <code>{c.id}</code> {c.change}
                      {c.fields.length > 0 && (
                        <span className="muted"> ({c.fields.join(", ")})</span>
                      )}
                    </li>
                  ))}
                </ul>
              )}
              <h3>Draft vs deployed{deployed ? ` v${deployed.version}` : ""}</h3>
              {!workflow.version ? (
                <p className="muted">Nothing is deployed yet.</p>
              ) : !deployed ? (
                <p className="muted">Loading the deployed version…</p>
              ) : (
                <DeployedDiff
                  before={deployed.orchestration_nodes ?? []}
                  after={nodes}
                  changes={fromDeployed}
                />
              )}
              <WorkflowDetails workflow={workflow} onSaved={setData} />
            </div>
          )}
        </aside>
      </div>
    </div>
  );
}

function DeployedDiff({
  before,
  after,
  changes,
}: {
  before: OrchestrationNode[];
  after: OrchestrationNode[];
  changes: ReturnType<typeof diffNodes>;
}) {
  if (changes.length === 0)
    return <p className="muted">The draft on the canvas is the deployed version.</p>;
  return (
    <div data-testid="deployed-diff">
      <ul className="changes">
        {changes.map((c) => (
          <li key={c.id} className={`ch-${c.change}`}>
            <code>{c.id}</code> {c.change}
            {c.fields.length > 0 && <span className="muted"> ({c.fields.join(", ")})</span>}
          </li>
        ))}
      </ul>
      {changes.map((c) => {
        const lines = jsonDiff(
          c.change === "added" ? undefined : findNode(before, c.id),
          c.change === "removed" ? undefined : findNode(after, c.id),
        );
        return (
          <details key={c.id} open={changes.length <= 3}>
            <summary>
              <code>{c.id}</code> <span className="muted small">JSON</span>
            </summary>
            <div className="json-diff" data-testid={`json-diff-${c.id}`}>
              {lines.map((l, i) => (
                <div
                  // biome-ignore lint/suspicious/noArrayIndexKey: lines of one fixed diff
                  key={i}
                  className={l.kind === "same" ? "" : l.kind}
                >
                  {l.kind === "add" ? "+ " : l.kind === "del" ? "- " : "  "}
                  {l.text}
                </div>
              ))}
            </div>
          </details>
        );
      })}
      <p className="muted small">
        Compared: the canvas (with unsaved edits) against the deployed version. Tick “Diff vs v…” to
        mark the nodes on the canvas; pick that version to see the removed ones.
      </p>
    </div>
  );
}

function RunPanel({
  workflow,
  run,
  dirty,
  onOpenSubTask,
}: {
  workflow: Workflow;
  run: ReturnType<typeof useRun>;
  dirty: boolean;
  onOpenSubTask: (nodeId: string) => void;
}) {
  const [input, setInput] = useState("");
  const [format, setFormat] = useState<"text" | "json">("text");
  const [version, setVersion] = useState<string>(workflow.version ? "latest" : "draft");
  const [inputError, setInputError] = useState("");
  const task = run.view?.task;

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    let text = input;
    if (format === "json") {
      try {
        text = JSON.stringify(JSON.parse(input));
      } catch (err) {
        setInputError(`Not valid JSON: ${(err as Error).message}`);
        return;
      }
    }
    setInputError("");
    const v: RunVersion =
      version === "latest" ? undefined : version === "draft" ? "draft" : Number(version);
    void run.start("workflows", workflow.id, { input: { text } } as never, v);
  };

  const versions = Array.from({ length: workflow.version }, (_, i) => workflow.version - i);
  const totalMs =
    task?.started_at && task.finished_at
      ? Date.parse(task.finished_at) - Date.parse(task.started_at)
      : null;
  return (
    <div className="pad run-panel">
      <form onSubmit={submit}>
        <div className="row">
          <label htmlFor="run-input">Input</label>
          <span className="spacer" />
          <div className="seg" title="Input format">
            {(["text", "json"] as const).map((f) => (
              <button
                key={f}
                type="button"
                aria-pressed={format === f}
                className={format === f ? "active" : ""}
                onClick={() => setFormat(f)}
              >
                {f === "text" ? "Text" : "JSON"}
              </button>
            ))}
          </div>
        </div>
        <textarea
          id="run-input"
          rows={4}
          value={input}
          onChange={(e) => setInput(e.target.value)}
          placeholder={
            format === "json" ? '{"question": "…"}' : "What the workflow gets as input.text"
          }
          onKeyDown={(e) => {
            if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) submit(e);
          }}
        />
        {inputError && <div className="error">{inputError}</div>}
        <div className="row">
          <label htmlFor="run-version">Version</label>
          <select id="run-version" value={version} onChange={(e) => setVersion(e.target.value)}>
            {workflow.version > 0 && (
              <option value="latest">latest deployed (v{workflow.version})</option>
            )}
            <option value="draft">draft{dirty ? " (saved, without unsaved edits)" : ""}</option>
            {versions.map((v) => (
              <option key={v} value={v}>
                v{v}
              </option>
            ))}
          </select>
          <span className="spacer" />
          {run.active ? (
            <button type="button" className="danger" onClick={() => void run.stop()}>
              Stop
            </button>
          ) : (
            <button type="submit" className="primary">
              Run ▶
            </button>
          )}
        </div>
      </form>
      <ErrorBanner error={run.error} onClose={() => run.setError(null)} />
      {task && (
        <div className="run-result" data-testid="run-result">
          <div className="row">
            <StatusBadge status={task.status} />
            {totalMs !== null && <span className="muted">{formatDuration(totalMs)}</span>}
            <span className="spacer" />
            <Link href={`/tasks/${task.id}`}>Open task</Link>
          </div>
          {task.status_reason && (
            <p className="muted small">
              {task.status_reason}
              {task.status_message ? `: ${task.status_message}` : ""}
            </p>
          )}
          <ApprovalPanel task={task} onDecided={() => undefined} />
          {Object.keys(run.view?.subTaskOf ?? {}).length > 0 && (
            <ul className="sub-tasks" aria-label="Sub-tasks">
              {Object.entries(run.view?.subTaskOf ?? {}).map(([nodeId, child]) => (
                <li key={child}>
                  <button type="button" className="link" onClick={() => onOpenSubTask(nodeId)}>
                    ↳ {nodeId}: watch its sub-task
                  </button>{" "}
                  <SubTaskStatus status={run.view?.subTasks.find((t) => t.id === child)?.status} />
                </li>
              ))}
            </ul>
          )}
          {run.view?.chunks && !run.view.finished && (
            <pre className="output">{run.view.chunks}</pre>
          )}
          {run.view?.finished && (
            <>
              <h3>Result</h3>
              <pre className="output" data-testid="result">
                {task.result ?? "(none)"}
              </pre>
            </>
          )}
        </div>
      )}
    </div>
  );
}

/** The parent hears of a sub-task when it starts and when it ends: in between it runs. */
function SubTaskStatus({ status }: { status: string | undefined }) {
  return status && TERMINAL.has(status) ? (
    <StatusBadge status={status} />
  ) : (
    <span className="muted small">running</span>
  );
}

const CONDITION_TYPES = [
  "",
  "contains",
  "equal",
  "not_equal",
  "regex",
  "gt",
  "lt",
  "gte",
  "lte",
  "not_empty",
  "else",
];

function NodeEditor({
  node,
  nodes,
  onChange,
  onDelete,
  invalid,
  runError,
}: {
  node: OrchestrationNode;
  nodes: OrchestrationNode[];
  onChange: (node: OrchestrationNode) => void;
  onDelete: () => void;
  invalid: string | null;
  runError: string | null;
}) {
  const [idText, setIdText] = useState(node.id);
  const [defText, setDefText] = useState(JSON.stringify(node.definition ?? {}, null, 2));
  const [defError, setDefError] = useState("");
  const dark = document.documentElement.dataset.theme === "dark";
  const isTop = nodes.some((n) => n.id === node.id);
  const condition: Condition = node.condition ?? {};
  const setCondition = (patch: Partial<Condition>) => {
    const next = { ...condition, ...patch };
    onChange({ ...node, condition: next.type ? next : null });
  };
  const code = typeof node.definition?.code === "string" ? node.definition.code : "";

  return (
    <div className="pad node-editor">
      {invalid && (
        <div className="error" role="alert">
          {invalid}
        </div>
      )}
      {runError && <div className="error">Last run: {runError}</div>}
      <div className="field">
        <label htmlFor="node-id">Id</label>
        <input
          id="node-id"
          value={idText}
          onChange={(e) => setIdText(e.target.value)}
          onBlur={() => {
            const idValue = idText.trim();
            if (idValue && idValue !== node.id) onChange({ ...node, id: idValue });
          }}
        />
      </div>
      <div className="field">
        <label htmlFor="node-name">Name</label>
        <input
          id="node-name"
          value={node.name ?? ""}
          onChange={(e) => onChange({ ...node, name: e.target.value })}
        />
      </div>
      <div className="field">
        <span className="label">Type</span> <code>{node.type}</code>
      </div>
      {isTop && (
        <fieldset>
          <legend>Condition on the edge into this node</legend>
          <div className="row">
            <select
              aria-label="Condition type"
              value={condition.type ?? ""}
              onChange={(e) => setCondition({ type: e.target.value || null })}
            >
              {CONDITION_TYPES.map((t) => (
                <option key={t} value={t}>
                  {t || "(always)"}
                </option>
              ))}
            </select>
            <input
              aria-label="Condition path"
              placeholder="path (e.g. result.score)"
              value={condition.path ?? ""}
              onChange={(e) => setCondition({ path: e.target.value || null })}
            />
          </div>
          {condition.type && condition.type !== "else" && condition.type !== "not_empty" && (
            <div className="row">
              <input
                aria-label="Condition value"
                placeholder="value"
                value={String(condition.value ?? condition.term ?? "")}
                onChange={(e) => setCondition({ value: e.target.value, term: null })}
              />
              <input
                aria-label="Route (classifier group id)"
                placeholder="group id"
                value={condition.group_id ?? ""}
                onChange={(e) => setCondition({ group_id: e.target.value || null })}
              />
            </div>
          )}
        </fieldset>
      )}
      {node.type === "agent" && (
        <AgentPicker
          value={typeof node.definition?.asset_id === "string" ? node.definition.asset_id : ""}
          onChange={(assetId) => {
            const definition = { ...node.definition, asset_id: assetId || undefined };
            setDefText(JSON.stringify(definition, null, 2));
            onChange({ ...node, definition });
          }}
        />
      )}
      {node.type === "code" ? (
        <div className="field">
          <span className="label">
            Code (Python: <code>def main(input)</code>)
          </span>
          <Suspense fallback={<div className="muted">Loading editor…</div>}>
            <CodeEditor
              label="Python code"
              dark={dark}
              value={code}
              onChange={(value) =>
                onChange({ ...node, definition: { ...node.definition, code: value } })
              }
            />
          </Suspense>
        </div>
      ) : (
        <div className="field">
          <label htmlFor="node-def">Definition (JSON)</label>
          <textarea
            id="node-def"
            className="mono"
            rows={10}
            value={defText}
            onChange={(e) => {
              setDefText(e.target.value);
              try {
                const parsed = JSON.parse(e.target.value) as Record<string, unknown>;
                setDefError("");
                onChange({ ...node, definition: parsed });
              } catch (err) {
                setDefError((err as Error).message);
              }
            }}
          />
          {defError && <div className="error">{defError}</div>}
        </div>
      )}
      <div className="row">
        <label className="inline">
          <input
            type="checkbox"
            checked={Boolean(node.retry_strategy?.enabled)}
            onChange={(e) =>
              onChange({
                ...node,
                retry_strategy: {
                  enabled: e.target.checked,
                  max_retries: node.retry_strategy?.max_retries ?? 3,
                },
              })
            }
          />{" "}
          Retry
        </label>
        <input
          aria-label="Max retries"
          type="number"
          min={0}
          max={20}
          style={{ width: "5rem" }}
          value={node.retry_strategy?.max_retries ?? 3}
          onChange={(e) =>
            onChange({
              ...node,
              retry_strategy: {
                enabled: Boolean(node.retry_strategy?.enabled),
                max_retries: Number(e.target.value),
              },
            })
          }
        />
        <label className="inline" htmlFor="node-timeout">
          Timeout s
        </label>
        <input
          id="node-timeout"
          type="number"
          min={1}
          style={{ width: "6rem" }}
          value={node.timeout_seconds ?? ""}
          onChange={(e) =>
            onChange({ ...node, timeout_seconds: e.target.value ? Number(e.target.value) : null })
          }
        />
      </div>
      <button type="button" className="danger" onClick={onDelete}>
        Delete node
      </button>
    </div>
  );
}

function AgentPicker({ value, onChange }: { value: string; onChange: (id: string) => void }) {
  const { data, error } = useLoad(() => client.listAgents(1, 50), []);
  return (
    <div className="field">
      <label htmlFor="node-agent">Agent (runs as a sub-task)</label>
      <select id="node-agent" value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">(inline agent in the definition)</option>
        {data?.items.map((a) => (
          <option key={a.id} value={a.id}>
            {a.name}
            {a.version ? ` (v${a.version})` : " (not deployed)"}
          </option>
        ))}
      </select>
      <ErrorBanner error={error} />
    </div>
  );
}

function WorkflowDetails({
  workflow,
  onSaved,
}: {
  workflow: Workflow;
  onSaved: (w: Workflow) => void;
}) {
  const [name, setName] = useState(workflow.name);
  const [description, setDescription] = useState(workflow.description ?? "");
  const [error, setError] = useState<unknown>(null);
  const save = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      onSaved(
        await client.saveWorkflow(workflow.id, { name, description: description || null } as never),
      );
    } catch (err) {
      setError(err);
    }
  };
  const remove = async () => {
    if (!window.confirm(`Delete the workflow ${workflow.name}? Its tasks stay.`)) return;
    try {
      await client.deleteWorkflow(workflow.id);
      navigate("/workflows");
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form onSubmit={save}>
      <h3>Workflow</h3>
      <div className="field">
        <label htmlFor="wf-name">Name</label>
        <input id="wf-name" value={name} onChange={(e) => setName(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="wf-description">Description</label>
        <textarea
          id="wf-description"
          rows={2}
          value={description}
          onChange={(e) => setDescription(e.target.value)}
        />
      </div>
      <ErrorBanner error={error} />
      <div className="row">
        <button type="submit" disabled={!name.trim()}>
          Save details
        </button>
        <span className="spacer" />
        <button type="button" className="danger" onClick={() => void remove()}>
          Delete workflow
        </button>
      </div>
    </form>
  );
}
