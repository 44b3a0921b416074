import { useState } from "react";

// Forms for an agent's tools: HTTP actions and MCP servers. Each edits the list the API
// holds; fields the form does not show are kept as they are. Credential values come back
// from the API masked, and a masked value sent back unchanged keeps the stored one.

type Item = Record<string, unknown>;

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const TRANSPORTS = ["streamable-http", "sse"];

function headersText(headers: unknown): string {
  if (!headers || typeof headers !== "object") return "";
  return Object.entries(headers as Record<string, unknown>)
    .map(([k, v]) => `${k}: ${String(v)}`)
    .join("\n");
}

function parseHeaders(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf(":");
    if (at > 0) out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return out;
}

function ListEditor({
  label,
  items,
  onChange,
  blank,
  render,
}: {
  label: string;
  items: Item[];
  onChange: (items: Item[]) => void;
  blank: () => Item;
  render: (item: Item, set: (patch: Item) => void, index: number) => React.ReactNode;
}) {
  return (
    <div className="tool-list">
      {items.length === 0 && <p className="muted small">None yet.</p>}
      {items.map((item, i) => (
        <fieldset
          // biome-ignore lint/suspicious/noArrayIndexKey: items have no id until named
          key={i}
          className="tool-item"
        >
          <legend>
            {label} {i + 1}
            {item.name ? `: ${String(item.name)}` : ""}
          </legend>
          {render(
            item,
            (patch) => onChange(items.map((x, j) => (j === i ? { ...x, ...patch } : x))),
            i,
          )}
          <button
            type="button"
            className="danger"
            onClick={() => onChange(items.filter((_, j) => j !== i))}
          >
            Remove
          </button>
        </fieldset>
      ))}
      <button type="button" onClick={() => onChange([...items, blank()])}>
        + Add {label}
      </button>
    </div>
  );
}

function Text({
  id,
  label,
  value,
  onChange,
  placeholder,
}: {
  id: string;
  label: string;
  value: unknown;
  onChange: (v: string) => void;
  placeholder?: string;
}) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        value={value == null ? "" : String(value)}
        placeholder={placeholder}
        onChange={(e) => onChange(e.target.value)}
      />
    </div>
  );
}

function SchemaField({
  id,
  value,
  onChange,
}: {
  id: string;
  value: unknown;
  onChange: (v: unknown) => void;
}) {
  const [text, setText] = useState(() =>
    JSON.stringify(value ?? { type: "object", properties: {} }, null, 2),
  );
  const [error, setError] = useState("");
  return (
    <div className="field">
      <label htmlFor={id}>Parameters (JSON Schema the model fills)</label>
      <textarea
        id={id}
        className="mono"
        rows={4}
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          try {
            onChange(JSON.parse(e.target.value));
            setError("");
          } catch (err) {
            setError((err as Error).message);
          }
        }}
      />
      {error && <div className="error">{error}</div>}
    </div>
  );
}

export function HttpToolsForm({
  items,
  onChange,
}: {
  items: Item[];
  onChange: (items: Item[]) => void;
}) {
  return (
    <ListEditor
      label="HTTP action"
      items={items}
      onChange={onChange}
      blank={() => ({ name: "", description: "", url: "", method: "POST" })}
      render={(item, set, i) => (
        <>
          <div className="row">
            <Text
              id={`tool-${i}-name`}
              label="Name"
              value={item.name}
              onChange={(v) => set({ name: v })}
              placeholder="get_weather"
            />
            <div className="field">
              <label htmlFor={`tool-${i}-method`}>Method</label>
              <select
                id={`tool-${i}-method`}
                value={String(item.method ?? "POST")}
                onChange={(e) => set({ method: e.target.value })}
              >
                {METHODS.map((m) => (
                  <option key={m}>{m}</option>
                ))}
              </select>
            </div>
          </div>
          <Text
            id={`tool-${i}-url`}
            label="URL"
            value={item.url}
            onChange={(v) => set({ url: v })}
            placeholder="https://api.example.com/weather"
          />
          <Text
            id={`tool-${i}-description`}
            label="Description (what the model reads)"
            value={item.description}
            onChange={(v) => set({ description: v })}
          />
          <SchemaField
            id={`tool-${i}-parameters`}
            value={item.parameters}
            onChange={(v) => set({ parameters: v })}
          />
          <HeadersField
            id={`tool-${i}-headers`}
            value={item.headers}
            onChange={(v) => set({ headers: v })}
          />
        </>
      )}
    />
  );
}

function HeadersField({
  id,
  value,
  onChange,
}: {
  id: string;
  value: unknown;
  onChange: (v: Record<string, string>) => void;
}) {
  const [text, setText] = useState(() => headersText(value));
  return (
    <div className="field">
      <label htmlFor={id}>Headers (one “Name: value” a line; stored values show masked)</label>
      <textarea
        id={id}
        className="mono"
        rows={2}
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          onChange(parseHeaders(e.target.value));
        }}
      />
    </div>
  );
}

export function McpServersForm({
  items,
  onChange,
}: {
  items: Item[];
  onChange: (items: Item[]) => void;
}) {
  return (
    <ListEditor
      label="MCP server"
      items={items}
      onChange={onChange}
      blank={() => ({ name: "", url: "", transport: "streamable-http", allowed_tools: [] })}
      render={(item, set, i) => (
        <>
          <div className="row">
            <Text
              id={`mcp-${i}-name`}
              label="Name"
              value={item.name}
              onChange={(v) => set({ name: v })}
            />
            <div className="field">
              <label htmlFor={`mcp-${i}-transport`}>Transport</label>
              <select
                id={`mcp-${i}-transport`}
                value={String(item.transport ?? "streamable-http")}
                onChange={(e) => set({ transport: e.target.value })}
              >
                {TRANSPORTS.map((t) => (
                  <option key={t}>{t}</option>
                ))}
              </select>
            </div>
          </div>
          <Text
            id={`mcp-${i}-url`}
            label="URL"
            value={item.url}
            onChange={(v) => set({ url: v })}
            placeholder="https://mcp.example.com/mcp"
          />
          <Text
            id={`mcp-${i}-allowed`}
            label="Allowed tools (comma-separated; empty: all)"
            value={Array.isArray(item.allowed_tools) ? item.allowed_tools.join(", ") : ""}
            onChange={(v) =>
              set({
                allowed_tools: v
                  .split(",")
                  .map((s) => s.trim())
                  .filter(Boolean),
              })
            }
          />
          <HeadersField
            id={`mcp-${i}-headers`}
            value={item.headers}
            onChange={(v) => set({ headers: v })}
          />
        </>
      )}
    />
  );
}
