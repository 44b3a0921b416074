import { useEffect, useState } from "react";
import { client } from "../api/client";
import type { Agent, DeployedAgent } from "../api/types";
import { ErrorBanner, timeAgo, useLoad } from "../components/common";
import { Link } from "../components/Link";
import { HttpToolsForm, McpServersForm } from "../components/ToolForms";
import { agentSettings } from "../lib/agentSettings";
import { jsonDiff, prettyJson } from "../lib/jsonDiff";
import { useRun } from "../lib/useRun";
import { navigate } from "../router";

export function AgentsPage() {
  const { data, error } = useLoad(() => client.listAgents(1, 50), []);
  const [name, setName] = useState("");
  const [createError, setCreateError] = useState<unknown>(null);
  const create = async (e: React.FormEvent) => {
    e.preventDefault();
    try {
      const agent = await client.createAgent(name.trim());
      navigate(`/agents/edit/${agent.id}`);
    } catch (err) {
      setCreateError(err);
    }
  };
  return (
    <div className="page">
      <div className="row">
        <h1>Agents</h1>
        <span className="spacer" />
        <form className="row" onSubmit={create}>
          <input
            aria-label="New agent name"
            placeholder="New agent name"
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
          <button type="submit" className="primary" disabled={!name.trim()}>
            Create
          </button>
        </form>
      </div>
      <ErrorBanner error={error ?? createError} />
      {data && data.items.length === 0 && <p className="muted">No agents yet.</p>}
      {data && data.items.length > 0 && (
        <table className="list">
          <thead>
            <tr>
              <th>Name</th>
              <th>Model</th>
              <th>Draft</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((a) => (
              <tr key={a.id}>
                <td>
                  <Link href={`/agents/edit/${a.id}`}>{a.name}</Link>
                </td>
                <td>
                  {a.model_provider ?? "—"} / {a.model_name ?? "default"}
                </td>
                <td>{a.has_pending_changes ? <span className="pill warn">pending</span> : "—"}</td>
                <td className="muted small">{timeAgo(a.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function instructionsText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value && typeof value === "object") {
    const v = value as { general?: string; role?: string[]; goal?: string[] };
    return [v.general, ...(v.role ?? []), ...(v.goal ?? [])].filter(Boolean).join("\n");
  }
  return "";
}

const JSON_FIELDS = ["tools", "mcp_servers", "output_schema"] as const;
type JsonField = (typeof JSON_FIELDS)[number];
const JSON_HELP: Record<JsonField, string> = {
  tools: 'HTTP actions: [{"name", "description", "url", "method", "parameters": JSON Schema}]',
  mcp_servers:
    'MCP servers: [{"name", "url", "transport": "streamable-http" | "sse", "allowed_tools"}]',
  output_schema: "JSON Schema of a structured answer (with output format json), or null",
};
const TEXT_FIELDS = [
  "name",
  "model_provider",
  "model_name",
  "llm_api_base",
  "llm_credentials_key",
] as const;
const TEXT_LABELS: Record<(typeof TEXT_FIELDS)[number], string> = {
  name: "Name",
  model_provider: "Model provider",
  model_name: "Model name",
  llm_api_base: "API base URL",
  llm_credentials_key: "Provider key (named secret)",
};

const JSON_TITLES: Record<JsonField, string> = {
  tools: "Tools: HTTP actions",
  mcp_servers: "Tools: MCP servers",
  output_schema: "Output schema",
};

/** tools and MCP servers as forms (or as JSON, on request); the output schema as JSON */
function JsonOrForm({
  field,
  text,
  onText,
}: {
  field: JsonField;
  text: string;
  onText: (text: string) => void;
}) {
  const [raw, setRaw] = useState(field === "output_schema");
  let items: Record<string, unknown>[] | null = null;
  try {
    const parsed: unknown = JSON.parse(text || "[]");
    if (Array.isArray(parsed)) items = parsed as Record<string, unknown>[];
  } catch {
    items = null; // not valid JSON yet: only the JSON editor can show it
  }
  const asForm = !raw && items !== null && field !== "output_schema";
  const set = (next: Record<string, unknown>[]) => onText(JSON.stringify(next, null, 2));
  return (
    <>
      {field !== "output_schema" && (
        <div className="row">
          <span className="spacer" />
          <button
            type="button"
            className="link small"
            onClick={() => setRaw(!raw)}
            disabled={items === null && raw}
          >
            {asForm ? "Edit as JSON" : "Edit as form"}
          </button>
        </div>
      )}
      {asForm && items !== null ? (
        field === "tools" ? (
          <HttpToolsForm items={items} onChange={set} />
        ) : (
          <McpServersForm items={items} onChange={set} />
        )
      ) : (
        <>
          <p className="muted small">{JSON_HELP[field]}</p>
          <textarea
            id={`agent-${field}`}
            aria-label={JSON_TITLES[field]}
            className="mono"
            rows={6}
            value={text}
            onChange={(e) => onText(e.target.value)}
          />
        </>
      )}
    </>
  );
}

export function AgentPage({ id }: { id: string }) {
  const { data: agent, error, setData } = useLoad(() => client.getAgent(id), [id]);
  const [form, setForm] = useState<Record<string, string>>({});
  const [saveError, setSaveError] = useState<unknown>(null);
  const [notice, setNotice] = useState("");

  useEffect(() => {
    if (!agent) return;
    const raw = agent as unknown as Record<string, unknown>;
    const next: Record<string, string> = {
      instructions: instructionsText(agent.instructions),
      output_format: String(raw.output_format ?? "text"),
    };
    for (const f of TEXT_FIELDS) next[f] = raw[f] == null ? "" : String(raw[f]);
    for (const f of JSON_FIELDS)
      next[f] = JSON.stringify(raw[f] ?? (f === "output_schema" ? null : []), null, 2);
    setForm(next);
  }, [agent]);

  if (error)
    return (
      <div className="page">
        <ErrorBanner error={error} />
      </div>
    );
  if (!agent) return <div className="page muted">Loading…</div>;

  const save = async (deploy: boolean) => {
    setSaveError(null);
    setNotice("");
    try {
      const prior = (agent.instructions ?? {}) as { role?: string[]; goal?: string[] };
      const body: Record<string, unknown> = {
        instructions: {
          role: prior.role ?? [],
          goal: prior.goal ?? [],
          general: form.instructions ?? "",
        },
        output_format: form.output_format || "text",
      };
      for (const f of TEXT_FIELDS) body[f] = form[f] ? form[f] : f === "name" ? agent.name : null;
      for (const f of JSON_FIELDS) {
        try {
          body[f] = JSON.parse(form[f] || "null");
        } catch (err) {
          throw new Error(`${f}: not valid JSON (${(err as Error).message})`);
        }
      }
      const updated: Agent = await client.saveAgent(id, body, deploy);
      setData(updated);
      setNotice(deploy ? `Deployed version ${updated.version}` : "Draft saved");
    } catch (err) {
      setSaveError(err);
    }
  };

  return (
    <div className="page agent-page">
      <div className="row">
        <Link href="/agents" className="muted">
          Agents
        </Link>
        <span className="muted">/</span>
        <h1>{agent.name}</h1>
        <span className="pill">{agent.version ? `v${agent.version}` : "not deployed"}</span>
        {agent.has_pending_changes && <span className="pill warn">draft pending</span>}
      </div>
      <div className="two-cols">
        <form
          className="card"
          onSubmit={(e) => {
            e.preventDefault();
            void save(false);
          }}
        >
          {TEXT_FIELDS.map((f) => (
            <div className="field" key={f}>
              <label htmlFor={`agent-${f}`}>{TEXT_LABELS[f]}</label>
              <input
                id={`agent-${f}`}
                value={form[f] ?? ""}
                onChange={(e) => setForm({ ...form, [f]: e.target.value })}
              />
            </div>
          ))}
          <div className="field">
            <label htmlFor="agent-instructions">Instructions</label>
            <textarea
              id="agent-instructions"
              rows={6}
              value={form.instructions ?? ""}
              onChange={(e) => setForm({ ...form, instructions: e.target.value })}
            />
          </div>
          <div className="field">
            <label htmlFor="agent-output_format">Output format</label>
            <select
              id="agent-output_format"
              value={form.output_format ?? "text"}
              onChange={(e) => setForm({ ...form, output_format: e.target.value })}
            >
              {["text", "markdown", "json"].map((f) => (
                <option key={f}>{f}</option>
              ))}
            </select>
          </div>
          {JSON_FIELDS.map((f) => (
            <details className="field" key={f} open={f !== "output_schema"}>
              <summary>
                <span className="label">{JSON_TITLES[f]}</span>
              </summary>
              <JsonOrForm
                field={f}
                text={form[f] ?? ""}
                onText={(text) => setForm((prior) => ({ ...prior, [f]: text }))}
              />
            </details>
          ))}
          <ErrorBanner error={saveError} />
          {notice && (
            <div className="notice" role="status">
              {notice}
            </div>
          )}
          <div className="row">
            <button type="submit">Save draft</button>
            <button type="button" className="primary" onClick={() => void save(true)}>
              Save and deploy
            </button>
          </div>
        </form>
        <div className="stack">
          <Chat agent={agent} />
          <Versions agent={agent} />
        </div>
      </div>
    </div>
  );
}

/** Deployed versions, read-only: one version's settings, and how it differs from the deployed
 * one (the latest); for the latest itself, how the saved draft differs from it. */
function Versions({ agent }: { agent: Agent }) {
  const latest = agent.version;
  const [shown, setShown] = useState(latest);
  useEffect(() => setShown(latest), [latest]);
  const { data, error } = useLoad(async () => {
    if (!latest || !shown) return null;
    const [version, deployed] = await Promise.all([
      client.getAgentVersion(agent.id, shown),
      shown === latest ? null : client.getAgentVersion(agent.id, latest),
    ]);
    return { version, deployed };
  }, [agent.id, shown, latest]);
  const pair = (v: DeployedAgent, d: DeployedAgent | null) =>
    d
      ? { before: v, after: d, label: `v${v.version} → deployed v${d.version}` }
      : { before: v, after: agent, label: `deployed v${v.version} → the saved draft` };
  const compared = data ? pair(data.version, data.deployed) : null;
  const lines = compared
    ? jsonDiff(agentSettings(compared.before), agentSettings(compared.after))
    : [];
  const same = lines.every((l) => l.kind === "same");
  return (
    <section className="card" aria-label="Versions" data-testid="agent-versions">
      <div className="row">
        <h2>Versions</h2>
        <span className="spacer" />
        {latest > 0 && (
          <select
            aria-label="Version shown"
            value={shown}
            onChange={(e) => setShown(Number(e.target.value))}
          >
            {Array.from({ length: latest }, (_, i) => latest - i).map((v) => (
              <option key={v} value={v}>
                v{v}
                {v === latest ? " (deployed)" : ""}
              </option>
            ))}
          </select>
        )}
      </div>
      {!latest && <p className="muted">Nothing is deployed yet.</p>}
      <ErrorBanner error={error} />
      {data && compared && (
        <>
          <p className="muted small">
            v{data.version.version} deployed {timeAgo(data.version.deployed_at)}
          </p>
          <h3>{compared.label}</h3>
          {same ? (
            <p className="muted" data-testid="agent-version-diff">
              No difference.
            </p>
          ) : (
            <div className="json-diff" data-testid="agent-version-diff">
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
          )}
          <details>
            <summary>Settings of v{data.version.version}</summary>
            <pre className="output" data-testid="agent-version-settings">
              {prettyJson(agentSettings(data.version))}
            </pre>
          </details>
        </>
      )}
    </section>
  );
}

function Chat({ agent }: { agent: Agent }) {
  const run = useRun(["agent"]);
  const [text, setText] = useState("");
  const [turns, setTurns] = useState<{ role: string; text: string }[]>([]);
  const [threadId, setThreadId] = useState<string | null>(null);
  const task = run.view?.task;

  useEffect(() => {
    if (task?.id) setThreadId(task.id);
    if (run.view?.finished && task) {
      setTurns((t) =>
        t[t.length - 1]?.role === "assistant"
          ? t
          : [...t, { role: "assistant", text: task.result ?? `(${task.status})` }],
      );
    }
  }, [run.view?.finished, task]);

  const send = (e: React.FormEvent) => {
    e.preventDefault();
    if (!text.trim()) return;
    setTurns((t) => [...t, { role: "user", text }]);
    const body = { input: { text }, events_streaming: true, ...(threadId ? { id: threadId } : {}) };
    void run.start("agents", agent.id, body as never, agent.version ? undefined : "draft");
    setText("");
  };

  return (
    <section className="card chat" aria-label="Chat with the agent">
      <div className="row">
        <h2>Chat</h2>
        <span className="spacer" />
        <button
          type="button"
          className="ghost"
          onClick={() => {
            setTurns([]);
            setThreadId(null);
          }}
        >
          New conversation
        </button>
      </div>
      <div className="thread">
        {turns.map((t, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: turns only grow
          <div key={i} className={`msg ${t.role}`}>
            <div className="who">{t.role}</div>
            <div className="what">{t.text}</div>
          </div>
        ))}
        {run.active && (
          <div className="msg assistant">
            <div className="who">assistant</div>
            <div className="what">
              {run.view?.toolCalls.map((c, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: calls only grow
                <div key={i} className="tool">
                  ⚙ {c.name} {c.result === undefined ? "…" : c.isError ? "failed" : "done"}
                </div>
              ))}
              {run.view?.chunks || "…"}
            </div>
          </div>
        )}
      </div>
      <ErrorBanner error={run.error} onClose={() => run.setError(null)} />
      <form className="row" onSubmit={send}>
        <input
          aria-label="Message"
          placeholder="Message the agent"
          value={text}
          onChange={(e) => setText(e.target.value)}
          disabled={run.active}
        />
        {run.active ? (
          <button type="button" className="danger" onClick={() => void run.stop()}>
            Stop
          </button>
        ) : (
          <button type="submit" className="primary" disabled={!text.trim()}>
            Send
          </button>
        )}
      </form>
      {threadId && (
        <p className="muted small">
          Task <Link href={`/tasks/${threadId}`}>{threadId.slice(0, 8)}</Link>
        </p>
      )}
    </section>
  );
}
