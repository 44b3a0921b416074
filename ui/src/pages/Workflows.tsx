import { useState } from "react";
import { client } from "../api/client";
import { ErrorBanner, StatusBadge, timeAgo, useLoad } from "../components/common";
import { Link } from "../components/Link";
import { navigate } from "../router";

const EXAMPLE = [
  {
    id: "start",
    type: "code",
    name: "start",
    next_node_ids: [],
    definition: { code: "def main(input):\n    return input\n" },
  },
];

export function WorkflowsPage() {
  const [page, setPage] = useState(1);
  const { data, error, loading } = useLoad(() => client.listWorkflows(page, 20), [page]);
  const [name, setName] = useState("");
  const [createError, setCreateError] = useState<unknown>(null);

  const create = async (e: React.FormEvent) => {
    e.preventDefault();
    if (!name.trim()) return;
    try {
      const workflow = await client.createWorkflow({
        name: name.trim(),
        orchestration_nodes: EXAMPLE,
      } as never);
      navigate(`/workflows/${workflow.id}`);
    } catch (err) {
      setCreateError(err);
    }
  };

  return (
    <div className="page">
      <div className="row">
        <h1>Workflows</h1>
        <span className="spacer" />
        <form className="row" onSubmit={create}>
          <input
            aria-label="New workflow name"
            placeholder="New workflow name"
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
          <button type="submit" className="primary" disabled={!name.trim()}>
            Create
          </button>
        </form>
      </div>
      <ErrorBanner error={error ?? createError} />
      {loading && !data && <p className="muted">Loading…</p>}
      {data && data.items.length === 0 && (
        <p className="muted">
          No workflows yet: create one above, or POST one to <code>/v1/workflows</code>.
        </p>
      )}
      {data && data.items.length > 0 && (
        <table className="list" data-testid="workflows">
          <thead>
            <tr>
              <th>Name</th>
              <th>Nodes</th>
              <th>Deployed</th>
              <th>Draft</th>
              <th>Last run</th>
              <th>Updated</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((w) => {
              const last = w.last_task;
              return (
                <tr key={w.id}>
                  <td>
                    <Link href={`/workflows/${w.id}`}>{w.name}</Link>
                    {w.description && <div className="muted small">{w.description}</div>}
                  </td>
                  <td>{w.orchestration_nodes?.length ?? 0}</td>
                  <td>
                    {w.version ? `v${w.version}` : <span className="muted">not deployed</span>}
                  </td>
                  <td>
                    {w.has_pending_changes ? (
                      <span className="pill warn">pending</span>
                    ) : (
                      <span className="muted">—</span>
                    )}
                  </td>
                  <td>
                    {last ? (
                      <Link href={`/tasks/${last.id}`} className="plain">
                        <StatusBadge status={last.status} />{" "}
                        <span className="muted small">{timeAgo(last.created_at)}</span>
                      </Link>
                    ) : (
                      <span className="muted">never run</span>
                    )}
                  </td>
                  <td className="muted small">{timeAgo(w.updated_at ?? w.created_at)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {data && data.total_pages > 1 && (
        <Pager page={page} pages={data.total_pages} onPage={setPage} />
      )}
    </div>
  );
}

export function Pager({
  page,
  pages,
  onPage,
}: {
  page: number;
  pages: number;
  onPage: (p: number) => void;
}) {
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" disabled={page <= 1} onClick={() => onPage(page - 1)}>
        ← Previous
      </button>
      <span>
        page {page} of {pages}
      </span>
      <button type="button" disabled={page >= pages} onClick={() => onPage(page + 1)}>
        Next →
      </button>
    </nav>
  );
}
