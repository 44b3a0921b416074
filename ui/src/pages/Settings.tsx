import { useState } from "react";
import { client } from "../api/client";
import { ErrorBanner, timeAgo, useLoad } from "../components/common";

export function SettingsPage() {
  const { data, error, reload } = useLoad(() => client.listSecrets(), []);
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [actionError, setActionError] = useState<unknown>(null);
  const [notice, setNotice] = useState("");

  const put = async (e: React.FormEvent) => {
    e.preventDefault();
    setActionError(null);
    try {
      await client.putSecret(name.trim(), value);
      setNotice(`Stored ${name.trim()}`);
      setName("");
      setValue("");
      void reload();
    } catch (err) {
      setActionError(err);
    }
  };
  const remove = async (secret: string) => {
    if (!window.confirm(`Delete the secret ${secret}?`)) return;
    try {
      await client.deleteSecret(secret);
      void reload();
    } catch (err) {
      setActionError(err);
    }
  };

  return (
    <div className="page">
      <h1>Settings</h1>
      <h2>Named secrets</h2>
      <p className="muted">
        Provider keys the organization stores once, encrypted; agents name them in{" "}
        <code>llm_credentials_key</code>. Values are write-only: set or replace one, it is never
        shown again.
      </p>
      <ErrorBanner error={error ?? actionError} onClose={() => setActionError(null)} />
      {notice && <div className="notice">{notice}</div>}
      <table className="list" data-testid="secrets">
        <thead>
          <tr>
            <th>Name</th>
            <th>Updated</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {data?.items.map((s) => (
            <tr key={s.name}>
              <td>
                <code>{s.name}</code>
              </td>
              <td className="muted small">{timeAgo(s.updated_at)}</td>
              <td>
                <button type="button" onClick={() => setName(s.name)}>
                  Replace value
                </button>{" "}
                <button type="button" className="danger" onClick={() => void remove(s.name)}>
                  Delete
                </button>
              </td>
            </tr>
          ))}
          {data && data.items.length === 0 && (
            <tr>
              <td colSpan={3} className="muted">
                No secrets yet.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <form className="card narrow" onSubmit={put}>
        <h3>Set a secret</h3>
        <div className="field">
          <label htmlFor="secret-name">Name</label>
          <input id="secret-name" value={name} onChange={(e) => setName(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="secret-value">Value</label>
          <input
            id="secret-value"
            type="password"
            autoComplete="off"
            value={value}
            onChange={(e) => setValue(e.target.value)}
          />
        </div>
        <button type="submit" className="primary" disabled={!name.trim() || !value}>
          Save
        </button>
      </form>
    </div>
  );
}
