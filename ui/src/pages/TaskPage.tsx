import { useEffect, useMemo, useState } from "react";
import { client, targetOf } from "../api/client";
import { type NodeRun, type Task, TERMINAL } from "../api/types";
import { Canvas } from "../components/Canvas";
import { ErrorBanner, StatusBadge, timeAgo, useLoad } from "../components/common";
import { Link } from "../components/Link";
import { allNodeIds } from "../lib/layout";
import { formatDuration } from "../lib/runState";
import { useRun } from "../lib/useRun";

export function TaskPage({ id }: { id: string }) {
  const { data: task, error, reload, setData } = useLoad(() => client.getTask(id), [id]);
  const { data: workflow } = useLoad(async () => {
    if (!task) return null;
    try {
      return await client.getWorkflow(task.agent_id);
    } catch {
      return null; // an agent's task, or a deleted workflow: no canvas
    }
  }, [task?.agent_id]);
  const { data: thread, reload: reloadThread } = useLoad(
    () => client.thread(id),
    [id, task?.turn, task?.status],
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
  // biome-ignore lint/correctness/useExhaustiveDependencies: reload when the live status ends a turn
  useEffect(() => {
    if (liveStatus && task && liveStatus !== task.status && TERMINAL.has(liveStatus)) {
      void reload();
      void reloadThread();
    }
  }, [liveStatus]);

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
              <code>{task.agent_id}</code>
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
          {task.tokens.total_tokens} (prompt {task.tokens.prompt_tokens}, completion{" "}
          {task.tokens.completion_tokens})
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
          <Canvas nodes={nodes} run={run.view} />
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
      {tab === "trace" && <Timeline task={task} />}
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

function Timeline({ task }: { task: Task }) {
  const runs = task.node_runs ?? [];
  if (runs.length === 0) return <p className="muted">No node has run yet.</p>;
  const starts = runs.map((r) => Date.parse(r.started_at ?? task.created_at));
  const ends = runs.map(
    (r, i) => (r.finished_at ? Date.parse(r.finished_at) : Date.now()) || (starts[i] ?? 0),
  );
  const t0 = Math.min(...starts);
  const span = Math.max(Math.max(...ends) - t0, 1);
  const total = runs.reduce((sum, r) => sum + (r.tokens?.total_tokens ?? 0), 0);
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
          {runs.map((r: NodeRun, i) => {
            const start = starts[i] ?? t0;
            const end = ends[i] ?? start;
            return (
              <tr key={`${r.turn}-${r.step}-${r.node_id}-${r.attempt}-${r.retry}`}>
                <td>{r.turn}</td>
                <td>
                  <code>{r.step}</code>
                  {r.iteration ? <span className="muted small"> it {r.iteration}</span> : null}
                </td>
                <td>
                  {r.node_name || r.node_id} <span className="muted small">{r.node_type}</span>
                  {r.retry > 0 && <span className="muted small"> retry {r.retry}</span>}
                  {r.error && <div className="error small">{r.error}</div>}
                </td>
                <td>
                  <StatusBadge status={r.status} />
                </td>
                <td>{formatDuration(end - start)}</td>
                <td>{r.tokens?.total_tokens ?? 0}</td>
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
              </tr>
            );
          })}
        </tbody>
        <tfoot>
          <tr>
            <td colSpan={5}>Total tokens</td>
            <td>{total}</td>
            <td />
          </tr>
        </tfoot>
      </table>
      <h3>Result</h3>
      <pre className="output" data-testid="task-result">
        {task.result ?? "(none yet)"}
      </pre>
      <p className="muted small">
        The API reports each node run's timing, status, error and tokens; a node's own input and
        output are not served yet.
      </p>
    </div>
  );
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
