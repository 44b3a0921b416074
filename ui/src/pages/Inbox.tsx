import { useEffect } from "react";
import { client } from "../api/client";
import { ApprovalPanel } from "../components/Approval";
import { ErrorBanner, timeAgo, useLoad } from "../components/common";
import { Link } from "../components/Link";
import { navigate, useLocation } from "../router";
import { Pager } from "./Workflows";

const PER_PAGE = 20;

/** Tasks waiting for a person: every paused task of the organization, each with what it
 * waits for and the buttons to answer it. */
export function InboxPage() {
  const { search } = useLocation();
  const page = Number(search.get("page") ?? "1") || 1;
  // one request: a list item carries what a paused task waits for
  const { data, error, loading, reload } = useLoad(
    () => client.listTasks({ status: "paused", page, per_page: PER_PAGE }),
    [page],
  );
  const { data: names } = useLoad(async () => {
    const [workflows, agents] = await Promise.all([
      client.listWorkflows(1, 50),
      client.listAgents(1, 50),
    ]);
    return Object.fromEntries([...workflows.items, ...agents.items].map((x) => [x.id, x.name]));
  }, []);
  // new waits arrive while the page is open
  useEffect(() => {
    const timer = setInterval(() => void reload(), 5000);
    return () => clearInterval(timer);
  }, [reload]);

  const decided = () => {
    void reload();
    window.dispatchEvent(new Event("taskloom:inbox"));
  };
  const waiting = data?.items.filter((t) => t.status === "paused") ?? [];
  return (
    <div className="page">
      <div className="row">
        <h1>Inbox</h1>
        <span className="muted">tasks waiting for a person or a callback</span>
        <span className="spacer" />
        <button type="button" onClick={() => void reload()} disabled={loading}>
          Refresh
        </button>
      </div>
      <ErrorBanner error={error} />
      {data && (
        <>
          <p className="muted small" data-testid="inbox-total">
            {data.total} waiting
          </p>
          {waiting.length === 0 && <p className="muted">Nothing is waiting.</p>}
          <div data-testid="inbox">
            {waiting.map((task) => (
              <article key={task.id} className="inbox-item" data-testid={`inbox-${task.id}`}>
                <div className="row">
                  <Link href={`/tasks/${task.id}`}>{task.title || <code>{task.id}</code>}</Link>
                  <span className="muted small">
                    {names?.[task.agent_id] ?? <code>{task.agent_id.slice(0, 8)}</code>} · paused{" "}
                    {timeAgo(task.paused_at)}
                  </span>
                </div>
                <ApprovalPanel task={task} onDecided={decided} compact />
              </article>
            ))}
          </div>
          {data.total_pages > 1 && (
            <Pager
              page={page}
              pages={data.total_pages}
              onPage={(p) => navigate(p > 1 ? `/inbox?page=${p}` : "/inbox")}
            />
          )}
        </>
      )}
    </div>
  );
}

/** How many tasks wait, for the navigation: polled, and at once after a decision here. */
export function useInboxCount(): number | null {
  const { data, reload } = useLoad(
    async () => (await client.listTasks({ status: "paused", page: 1, per_page: 1 })).total,
    [],
  );
  useEffect(() => {
    const timer = setInterval(() => void reload(), 10_000);
    const now = () => void reload();
    window.addEventListener("taskloom:inbox", now);
    return () => {
      clearInterval(timer);
      window.removeEventListener("taskloom:inbox", now);
    };
  }, [reload]);
  return data;
}
