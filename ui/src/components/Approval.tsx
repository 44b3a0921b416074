import { useState } from "react";
import { client } from "../api/client";
import type { Task } from "../api/types";
import { ErrorBanner, timeAgo } from "./common";

/** What a paused task waits for, and the means to answer it: approve or reject (with a
 * comment) a person's wait, or resume a webhook wait with a JSON body. */
export function ApprovalPanel({
  task,
  onDecided,
  compact = false,
}: {
  /** a task, or a list item (it carries the same fields while the task is paused) */
  task: Pick<Task, "id" | "status" | "paused_at" | "hitl_request">;
  onDecided: (task: Task) => void;
  compact?: boolean;
}) {
  const request = task.hitl_request;
  const [comment, setComment] = useState("");
  const [body, setBody] = useState("{}");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  if (task.status !== "paused" || !request) return null;

  const act = async (call: () => Promise<Task>) => {
    setBusy(true);
    setError(null);
    try {
      onDecided(await call());
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const resume = () => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (err) {
      setError(new Error(`The body is not valid JSON: ${(err as Error).message}`));
      return;
    }
    void act(() => client.resume(task.id, parsed));
  };
  const webhook = request.type === "webhook";
  return (
    <section
      className={`approval ${compact ? "compact" : ""}`}
      aria-label="Waiting for a decision"
      data-testid="approval"
    >
      {!compact && (
        <div className="row">
          <strong>{webhook ? "Waiting for a callback" : "Waiting for a person"}</strong>
          <span className="muted small">
            at node <code>{request.wait_node_id}</code>
            {task.paused_at ? `, since ${timeAgo(task.paused_at)}` : ""}
            {request.expires_at ? `, decided by the deadline ${request.expires_at}` : ""}
          </span>
        </div>
      )}
      <h3 className="approval-title">{request.title}</h3>
      {request.description && <p className="small">{request.description}</p>}
      {request.content && <pre className="output approval-content">{request.content}</pre>}
      {webhook ? (
        <>
          <label htmlFor={`resume-${task.id}`}>Callback body (JSON): the wait node's output</label>
          <textarea
            id={`resume-${task.id}`}
            className="mono"
            rows={3}
            value={body}
            onChange={(e) => setBody(e.target.value)}
          />
          <div className="row">
            <button type="button" className="primary" disabled={busy} onClick={resume}>
              Resume
            </button>
          </div>
        </>
      ) : (
        <>
          <label htmlFor={`comment-${task.id}`} className="sr-only">
            Comment (optional)
          </label>
          <div className="row">
            <input
              id={`comment-${task.id}`}
              placeholder="Comment (optional)"
              value={comment}
              onChange={(e) => setComment(e.target.value)}
            />
            <button
              type="button"
              className="approve"
              disabled={busy}
              onClick={() => void act(() => client.approve(task.id, comment))}
            >
              Approve
            </button>
            <button
              type="button"
              className="danger"
              disabled={busy}
              onClick={() => void act(() => client.reject(task.id, comment))}
            >
              Reject
            </button>
          </div>
        </>
      )}
      <ErrorBanner error={error} onClose={() => setError(null)} />
    </section>
  );
}
