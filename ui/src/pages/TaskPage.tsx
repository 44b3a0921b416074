import { useEffect, useMemo, useState } from "react";
import { client, targetOf } from "../api/client";
import { take } from "../api/prefetch";
import { type Task, TERMINAL, type Trace, type TraceRun } from "../api/types";
import { ApprovalPanel } from "../components/Approval";
import { Canvas } from "../components/Canvas";
import { ErrorBanner, StatusBadge, timeAgo, useLoad } from "../components/common";
import { Link } from "../components/Link";
import { allNodeIds } from "../lib/layout";
import { formatDuration } from "../lib/runState";
import { formatTokens, sumTokens } from "../lib/tokens";
import { useRun } from "../lib/useRun";
import { navigate } from "../router";

export function TaskPage({ id }: { id: string }) {
  const {
    data: task,
    error,
    reload,
    setData,
  } = useLoad(() => take(`task:${id}`, () => client.getTask(id)), [id]);
  const { data: workflow } = useLoad(async () => {
    if (!task) return null;
    try {
      return await client.getWorkflow(task.agent_id);
    } catch {
      return null; // an agent's task, or a deleted workflow: no canvas
    }
  }, [task?.agent_id]);
  // an agent's task names its agent, as a workflow's names its workflow
  const { data: agentName } = useLoad(async () => {
    if (!task) return null;
    try {
      return (await client.getAgent(task.agent_id)).name;
    } catch {
      return null; // a workflow's task, or a deleted agent: its id says enough
    }
  }, [task?.agent_id]);
  const { data: thread, reload: reloadThread } = useLoad(
    () => client.thread(id),
    [id, task?.turn, task?.status],
  );
  // the trace with each node run's input and output (and the sub-task an agent node ran)
  const liveSeq = useRunSeq();
  const { data: trace, reload: reloadTrace } = useLoad(
    () => client.trace(id),
    [id, task?.turn, task?.status, liveSeq.value],
  );
  const nodes = workflow?.orchestration_nodes ?? [];
  const ids = useMemo(() => allNodeIds(nodes), [nodes]);
  const run = useRun(ids);
  const [tab, setTab] = useState<"trace" | "thread" | "events">("trace");
  const [actionError, setActionError] = useState<unknown>(null);

  // follow the log (live while the task runs); refresh the task when a turn ends
  const watching = task?.id;
  // biome-ignore lint/correctness/useExhaustiveDependencies: start once per task and turn
  useEffect(() => {
    if (task) void run.watch(task, true);
  }, [watching, task?.turn]);
  const liveStatus = run.view?.task?.status;
  // biome-ignore lint/correctness/useExhaustiveDependencies: reload when the live status ends a turn or pauses
  useEffect(() => {
    if (liveStatus && task && liveStatus !== task.status) {
      if (TERMINAL.has(liveStatus) || liveStatus === "paused") void reload();
      if (TERMINAL.has(liveStatus)) void reloadThread();
    }
    liveSeq.bump();
  }, [liveStatus]);
  // a node that finished: its output is in the trace now
  const finishedNodes = run.events.filter((e) => e.type === "node_finished").length;
  // biome-ignore lint/correctness/useExhaustiveDependencies: refetch the trace as nodes finish
  useEffect(() => {
    if (finishedNodes > 0) void reloadTrace();
  }, [finishedNodes]);
  const subTasks = useMemo(() => {
    const found: Record<string, string> = {};
    for (const r of trace?.node_runs ?? []) if (r.sub_task_id) found[r.node_id] = r.sub_task_id;
    return found;
  }, [trace]);

  if (error)
    return (
      <div className="page">
        <ErrorBanner error={error} />
        <Link href="/tasks">Back to tasks</Link>
      </div>
    );
  if (!task) return <div className="page muted">Loading…</div>;

  const status = liveStatus && !TERMINAL.has(task.status) ? liveStatus : task.status;
  const running = !TERMINAL.has(status);
  // the task as last seen: the live stream's copy while it runs, else the one read
  const current: Task =
    run.view?.task && !TERMINAL.has(task.status) && run.view.task.status === status
      ? { ...task, ...run.view.task }
      : task;

  const stop = async () => {
    try {
      setData(await client.stopTask(task.id));
    } catch (err) {
      setActionError(err);
    }
  };

  return (
    <div className="page task-page">
      <div className="row">
        <Link href="/tasks" className="muted">
          Tasks
        </Link>
        <span className="muted">/</span>
        <h1>{task.title || <code>{task.id}</code>}</h1>
        <StatusBadge status={status} />
        <span className="spacer" />
        {running && (
          <button type="button" className="danger" onClick={() => void stop()}>
            Stop
          </button>
        )}
      </div>
      <ErrorBanner error={actionError ?? run.error} onClose={() => setActionError(null)} />
      <ApprovalPanel task={current} onDecided={(decided) => setData(decided)} />
      <dl className="facts">
        <dt>Task</dt>
        <dd>
          <code>{task.id}</code>
        </dd>
        <dt>{workflow ? "Workflow" : "Agent"}</dt>
        <dd>
          {workflow ? (
            <Link href={`/workflows/${workflow.id}`}>{workflow.name}</Link>
          ) : (
            <Link href={`/agents/edit/${task.agent_id}`}>
              {agentName ?? <code>{task.agent_id}</code>}
            </Link>
          )}{" "}
          · version {task.agent_version}
        </dd>
        <dt>Turn</dt>
        <dd>{task.turn}</dd>
        <dt>Created</dt>
        <dd>{timeAgo(task.created_at)}</dd>
        <dt>Duration</dt>
        <dd>
          {task.started_at && task.finished_at
            ? formatDuration(Date.parse(task.finished_at) - Date.parse(task.started_at))
            : running
              ? "running…"
              : "—"}
        </dd>
        <dt>Tokens</dt>
        <dd data-testid="tokens">
          {task.tokens.total_tokens === null
            ? formatTokens(task.tokens)
            : `${task.tokens.total_tokens} (prompt ${task.tokens.prompt_tokens}, completion ${task.tokens.completion_tokens})`}
        </dd>
        {(task.status_reason || task.status_message) && (
          <>
            <dt>Status reason</dt>
            <dd data-testid="status-reason">
              {task.status_reason}
              {task.status_message ? ` — ${task.status_message}` : ""}
            </dd>
          </>
        )}
        {task.parent_execution && (
          <>
            <dt>Parent</dt>
            <dd>
              <Link href={`/tasks/${task.parent_execution}`}>{task.parent_execution}</Link>
            </dd>
          </>
        )}
        {task.sub_executions.length > 0 && (
          <>
            <dt>Sub-tasks</dt>
            <dd>
              {task.sub_executions.map((s) => (
                <Link key={s} href={`/tasks/${s}`} className="sub">
                  <code>{s.slice(0, 8)}</code>
                </Link>
              ))}
            </dd>
          </>
        )}
      </dl>
      {workflow && nodes.length > 0 && (
        <div className="task-canvas">
          <Canvas
            nodes={nodes}
            run={run.view}
            drill={subTasks}
            onSelect={(nodeId) => {
              const sub = nodeId ? subTasks[nodeId] : undefined;
              if (sub) navigate(`/tasks/${sub}`);
            }}
          />
        </div>
      )}
      <div className="tabs" role="tablist">
        {(["trace", "thread", "events"] as const).map((t) => (
          <button
            key={t}
            type="button"
            role="tab"
            aria-selected={tab === t}
            className={tab === t ? "active" : ""}
            onClick={() => setTab(t)}
          >
            {t === "trace"
              ? "Trace"
              : t === "thread"
                ? "Conversation"
                : `Event log (${run.events.length})`}
          </button>
        ))}
      </div>
      {tab === "trace" && <Timeline task={task} trace={trace} />}
      {tab === "thread" && (
        <Thread
          task={task}
          messages={thread ?? []}
          running={running}
          onSent={() => {
            void reload();
            void reloadThread();
          }}
        />
      )}
      {tab === "events" && (
        <div className="events" data-testid="event-log">
          {run.events.map((e) => (
            <details key={e.seq}>
              <summary>
                <code>#{e.seq}</code> <strong>{e.type}</strong>{" "}
                <span className="muted small">{e.time}</span>
              </summary>
              <pre>{JSON.stringify(e.data, null, 2)}</pre>
            </details>
          ))}
          {run.events.length === 0 && <p className="muted">No events read yet.</p>}
        </div>
      )}
    </div>
  );
}

const SOURCES: Record<TraceRun["input_source"], string> = {
  turn_input: "the turn's input",
  previous_node: "the previous node's output",
  previous_iteration: "the previous iteration's output",
  parallel_parent: "its parallel node's input",
  unknown: "not known from what is stored",
};

function show(value: unknown): string {
  if (value === null || value === undefined) return "(none)";
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

function Timeline({ task, trace }: { task: Task; trace: Trace | null }) {
  const [open, setOpen] = useState<Set<number>>(new Set());
  // the trace route carries inputs and outputs; the task's own node_runs until it arrives
  const runs: (TraceRun | (NonNullable<Task["node_runs"]>[number] & Partial<TraceRun>))[] =
    trace?.node_runs ?? task.node_runs ?? [];
  if (runs.length === 0) return <p className="muted">No node has run yet.</p>;
  const starts = runs.map((r) => Date.parse(r.started_at ?? task.created_at));
  const ends = runs.map(
    (r, i) => (r.finished_at ? Date.parse(r.finished_at) : Date.now()) || (starts[i] ?? 0),
  );
  const t0 = Math.min(...starts);
  const span = Math.max(Math.max(...ends) - t0, 1);
  const total = sumTokens(runs.map((r) => r.tokens));
  const toggle = (i: number) =>
    setOpen((o) => {
      const next = new Set(o);
      if (next.has(i)) next.delete(i);
      else next.add(i);
      return next;
    });
  return (
    <div>
      <table className="list timeline" data-testid="timeline">
        <thead>
          <tr>
            <th>Turn</th>
            <th>Step</th>
            <th>Node</th>
            <th>Status</th>
            <th>Duration</th>
            <th>Tokens</th>
            <th className="bar-col">Timeline</th>
          </tr>
        </thead>
        <tbody>
          {runs.flatMap((r, i) => {
            const start = starts[i] ?? t0;
            const end = ends[i] ?? start;
            const key = `${r.turn}-${r.step}-${r.iteration}-${r.node_id}-${r.attempt}-${r.retry}`;
            const rows = [
              <tr key={key}>
                <td>{r.turn}</td>
                <td>
                  <code>{r.step}</code>
                  {r.iteration ? <span className="muted small"> it {r.iteration}</span> : null}
                </td>
                <td>
                  {trace ? (
                    <button
                      type="button"
                      className="link"
                      aria-expanded={open.has(i)}
                      onClick={() => toggle(i)}
                      title="Show this node run's input and output"
                    >
                      {open.has(i) ? "▾" : "▸"} {r.node_name || r.node_id}
                    </button>
                  ) : (
                    r.node_name || r.node_id
                  )}{" "}
                  <span className="muted small">{r.node_type}</span>
                  {r.retry > 0 && <span className="muted small"> retry {r.retry}</span>}
                  {r.sub_task_id && (
                    <>
                      {" "}
                      <Link href={`/tasks/${r.sub_task_id}`} className="small">
                        sub-task →
                      </Link>
                    </>
                  )}
                  {r.error && <div className="error small">{r.error}</div>}
                </td>
                <td>
                  <StatusBadge status={r.status} />
                </td>
                <td>{formatDuration(end - start)}</td>
                <td>{formatTokens(r.tokens)}</td>
                <td className="bar-col">
                  <div className="bar-track">
                    <div
                      className={`bar s-${r.status}`}
                      style={{
                        left: `${((start - t0) / span) * 100}%`,
                        width: `${Math.max(((end - start) / span) * 100, 0.8)}%`,
                      }}
                    />
                  </div>
                </td>
              </tr>,
            ];
            if (open.has(i) && r.input_source)
              rows.push(
                <tr key={`${key}-io`} className="io-row">
                  <td colSpan={7}>
                    <div className="io" data-testid={`io-${r.node_id}`}>
                      <div>
                        <strong>Input</strong>{" "}
                        <span className="muted small">
                          (derived: {SOURCES[r.input_source] ?? r.input_source})
                        </span>
                        <pre className="output">{show(r.input)}</pre>
                      </div>
                      <div>
                        <strong>Output</strong>
                        <pre className="output">
                          {r.status === "completed" ? show(r.output) : "(failed: no output)"}
                        </pre>
                      </div>
                    </div>
                  </td>
                </tr>,
              );
            return rows;
          })}
        </tbody>
        <tfoot>
          <tr>
            <td colSpan={5}>Total tokens</td>
            <td>{formatTokens(total)}</td>
            <td />
          </tr>
        </tfoot>
      </table>
      <h3>Result</h3>
      <pre className="output" data-testid="task-result">
        {task.result ?? "(none yet)"}
      </pre>
      <p className="muted small">
        A node's output is what it stored; its input is not stored, so it is derived from the walk
        (the turn's input for the first node, then the node before it) and labelled so.
      </p>
    </div>
  );
}

/** A counter to bump: a dependency that forces a reload. */
function useRunSeq() {
  const [value, setValue] = useState(0);
  return { value, bump: () => setValue((v) => v + 1) };
}

function Thread({
  task,
  messages,
  running,
  onSent,
}: {
  task: Task;
  messages: { id: string; role: string; content: string | null }[];
  running: boolean;
  onSent: () => void;
}) {
  const [text, setText] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const send = async (e: React.FormEvent) => {
    e.preventDefault();
    if (!text.trim()) return;
    setBusy(true);
    setError(null);
    try {
      const target = await targetOf(task.agent_id);
      await client.invokeAsync(target, task.agent_id, { input: { text }, id: task.id } as never);
      setText("");
      onSent();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="thread" data-testid="thread">
      {messages.map((m) => (
        <div key={m.id} className={`msg ${m.role}`}>
          <div className="who">{m.role}</div>
          <div className="what">{m.content}</div>
        </div>
      ))}
      {messages.length === 0 && <p className="muted">No messages yet.</p>}
      <form className="row" onSubmit={send}>
        <input
          aria-label="Next turn"
          placeholder={running ? "Wait for this turn to end…" : "Continue the conversation"}
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <button type="submit" className="primary" disabled={busy || !text.trim()}>
          Send
        </button>
      </form>
      <ErrorBanner error={error} />
    </div>
  );
}
