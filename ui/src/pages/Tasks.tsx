import { useEffect, useState } from "react";
import { client, type TaskQuery } from "../api/client";
import { TASK_STATUSES, type TaskStatus, TERMINAL } from "../api/types";
import { ErrorBanner, StatusBadge, timeAgo, useLoad } from "../components/common";
import { Link } from "../components/Link";
import { navigate, useLocation } from "../router";
import { Pager } from "./Workflows";

const FILTERS = [
  "agent_id",
  "status",
  "internal_status",
  "user_id",
  "parent_task_id",
  "triggering_agent_id",
] as const;

export function TasksPage() {
  const { search } = useLocation();
  const page = Number(search.get("page") ?? "1") || 1;
  const query: TaskQuery = { page, per_page: 25 };
  for (const f of FILTERS) {
    const value = search.get(f);
    if (value) (query as Record<string, unknown>)[f] = value;
  }
  const key = search.toString();
  const { data, error, loading, reload } = useLoad(() => client.listTasks(query), [key]);
  // refresh while a listed task is still running
  const live = data?.items.some((t) => !TERMINAL.has(t.status)) ?? false;
  useEffect(() => {
    if (!live) return;
    const timer = setInterval(() => void reload(), 3000);
    return () => clearInterval(timer);
  }, [live, reload]);
  // names of what ran the tasks (the first pages of workflows and agents)
  const { data: names } = useLoad(async () => {
    const [workflows, agents] = await Promise.all([
      client.listWorkflows(1, 50),
      client.listAgents(1, 50),
    ]);
    return Object.fromEntries([...workflows.items, ...agents.items].map((x) => [x.id, x.name]));
  }, []);
  const [draft, setDraft] = useState<Record<string, string>>(() =>
    Object.fromEntries(FILTERS.map((f) => [f, search.get(f) ?? ""])),
  );

  const go = (values: Record<string, string>, p = 1) => {
    const params = new URLSearchParams();
    for (const f of FILTERS) if (values[f]) params.set(f, values[f] as string);
    if (p > 1) params.set("page", String(p));
    const qs = params.toString();
    navigate(`/tasks${qs ? `?${qs}` : ""}`);
  };

  return (
    <div className="page">
      <div className="row">
        <h1>Tasks</h1>
        <span className="spacer" />
        <button type="button" onClick={() => void reload()} disabled={loading}>
          Refresh
        </button>
      </div>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          go(draft);
        }}
      >
        <label>
          Status
          <select
            value={draft.status}
            onChange={(e) => setDraft({ ...draft, status: e.target.value })}
          >
            <option value="">any</option>
            {TASK_STATUSES.map((s: TaskStatus) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        {FILTERS.filter((f) => f !== "status").map((f) => (
          <label key={f}>
            {f.replace(/_/g, " ")}
            <input
              value={draft[f] ?? ""}
              onChange={(e) => setDraft({ ...draft, [f]: e.target.value })}
            />
          </label>
        ))}
        <button type="submit" className="primary">
          Filter
        </button>
        <button
          type="button"
          title="Tasks paused, e.g. waiting for a person"
          onClick={() => {
            const paused = { ...Object.fromEntries(FILTERS.map((f) => [f, ""])), status: "paused" };
            setDraft(paused);
            go(paused);
          }}
        >
          Waiting (paused)
        </button>
        <button
          type="button"
          onClick={() => {
            const empty = Object.fromEntries(FILTERS.map((f) => [f, ""]));
            setDraft(empty);
            go(empty);
          }}
        >
          Clear
        </button>
      </form>
      <ErrorBanner error={error} />
      {data && (
        <>
          <p className="muted small">{data.total} tasks</p>
          <table className="list" data-testid="tasks">
            <thead>
              <tr>
                <th>Task</th>
                <th>Status</th>
                <th>Workflow / agent</th>
                <th>Created</th>
                <th>Result</th>
              </tr>
            </thead>
            <tbody>
              {data.items.map((t) => (
                <tr key={t.id}>
                  <td>
                    <Link href={`/tasks/${t.id}`}>
                      {t.title || <code>{t.id.slice(0, 13)}</code>}
                    </Link>
                    {t.parent_task_id && <div className="muted small">sub-task</div>}
                  </td>
                  <td>
                    <StatusBadge status={t.status} />
                    {t.status_reason && <div className="muted small">{t.status_reason}</div>}
                  </td>
                  <td>
                    <button
                      type="button"
                      className="link"
                      title="Only this one's tasks"
                      onClick={() => go({ ...draft, agent_id: t.agent_id })}
                    >
                      {names?.[t.agent_id] ?? <code>{t.agent_id.slice(0, 8)}</code>}
                    </button>
                  </td>
                  <td className="muted small">{timeAgo(t.created_at)}</td>
                  <td className="clip">{t.result ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {data.total_pages > 1 && (
            <Pager page={page} pages={data.total_pages} onPage={(p) => go(draft, p)} />
          )}
        </>
      )}
    </div>
  );
}
