import { Component, lazy, type ReactNode, Suspense, useEffect, useRef, useState } from "react";
import { ApiError, client, getKey, setKey, setUnauthorizedHandler } from "./api/client";
import { ErrorBanner } from "./components/common";
import { Link } from "./components/Link";
import { AgentPage, AgentsPage } from "./pages/Agents";
import { InboxPage, useInboxCount } from "./pages/Inbox";
import { SettingsPage } from "./pages/Settings";
import { TasksPage } from "./pages/Tasks";
import { WorkflowsPage } from "./pages/Workflows";
import { match, useLocation } from "./router";

// the canvas (xyflow) loads with the pages that draw it, not with the first page
const WorkflowPage = lazy(() =>
  import("./pages/WorkflowPage").then((m) => ({ default: m.WorkflowPage })),
);
const TaskPage = lazy(() => import("./pages/TaskPage").then((m) => ({ default: m.TaskPage })));

type Theme = "light" | "dark";
const ORG = "taskloom.organization";

function initialTheme(): Theme {
  const saved = localStorage.getItem("taskloom.theme"); // a preference, not a credential
  if (saved === "light" || saved === "dark") return saved;
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

/** The organization of the key: the API has no "who am I", so it is read off the first thing
 * the key can list. A key of an empty organization shows as such. */
async function organizationOf(): Promise<string> {
  const [workflows, tasks, agents] = await Promise.all([
    client.listWorkflows(1, 1),
    client.listTasks({ page: 1, per_page: 1 }),
    client.listAgents(1, 1),
  ]);
  const found = workflows.items[0] ?? tasks.items[0] ?? agents.items[0];
  return found?.organization_id ?? "(empty organization)";
}

export function App() {
  const [theme, setTheme] = useState<Theme>(initialTheme);
  const [signedIn, setSignedIn] = useState(() => getKey() !== null);
  const [org, setOrg] = useState(() => sessionStorage.getItem(ORG) ?? "");
  const [expired, setExpired] = useState(false);

  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem("taskloom.theme", theme);
  }, [theme]);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      setKey(null);
      setSignedIn(false);
      setExpired(true);
    });
    return () => setUnauthorizedHandler(null);
  }, []);

  const signOut = () => {
    setKey(null);
    sessionStorage.removeItem(ORG);
    setSignedIn(false);
    setExpired(false);
  };
  const toggle = (
    <button
      type="button"
      className="ghost"
      onClick={() => setTheme(theme === "dark" ? "light" : "dark")}
      aria-label={`Switch to ${theme === "dark" ? "light" : "dark"} theme`}
      title="Light / dark"
    >
      {theme === "dark" ? "☀" : "☾"}
    </button>
  );

  if (!signedIn) {
    return (
      <SignIn
        expired={expired}
        themeToggle={toggle}
        onSignedIn={(organization) => {
          sessionStorage.setItem(ORG, organization);
          setOrg(organization);
          setSignedIn(true);
          setExpired(false);
        }}
      />
    );
  }
  return (
    <div className="shell">
      <header className="top">
        <Link href="/workflows" className="brand">
          <img src="/favicon.svg" alt="" width={22} height={22} /> taskloom
        </Link>
        <Nav />
        <span className="spacer" />
        <span className="org" title="Organization of this API key" data-testid="organization">
          org <code>{org}</code>
        </span>
        {toggle}
        <button type="button" className="ghost" onClick={signOut}>
          Sign out
        </button>
      </header>
      <Main>
        <Boundary>
          <Suspense fallback={<div className="page muted">Loading…</div>}>
            <Pages />
          </Suspense>
        </Boundary>
      </Main>
    </div>
  );
}

/** The scrolling area of the pages: a new page (or the next page of a list) starts at its
 * top, as it would after following a link. */
function Main({ children }: { children: ReactNode }) {
  const { path, search } = useLocation();
  const box = useRef<HTMLElement>(null);
  const at = `${path}?${search.toString()}`;
  // biome-ignore lint/correctness/useExhaustiveDependencies: each new location scrolls up
  useEffect(() => {
    box.current?.scrollTo(0, 0);
  }, [at]);
  return <main ref={box}>{children}</main>;
}

function Nav() {
  const { path } = useLocation();
  const waiting = useInboxCount();
  const items: [string, string][] = [
    ["/workflows", "Workflows"],
    ["/tasks", "Tasks"],
    ["/inbox", "Inbox"],
    ["/agents", "Agents"],
    ["/settings", "Settings"],
  ];
  const active = (href: string) => path.startsWith(href) || (href === "/workflows" && path === "/");
  return (
    <nav aria-label="Main">
      {items.map(([href, label]) => (
        <Link
          key={href}
          href={href}
          className={active(href) ? "active" : ""}
          aria-current={active(href) ? "page" : undefined}
        >
          {label}
          {href === "/inbox" && waiting ? (
            <span className="nav-count" data-testid="inbox-count" title="Tasks waiting">
              {waiting}
            </span>
          ) : null}
        </Link>
      ))}
    </nav>
  );
}

function Pages() {
  const { path } = useLocation();
  const route = match(path);
  switch (route.page) {
    case "workflows":
      return <WorkflowsPage />;
    case "workflow":
      return <WorkflowPage key={route.id} id={route.id} />;
    case "tasks":
      return <TasksPage />;
    case "task":
      return <TaskPage key={route.id} id={route.id} />;
    case "inbox":
      return <InboxPage />;
    case "agents":
      return <AgentsPage />;
    case "agent":
      return <AgentPage key={route.id} id={route.id} />;
    case "settings":
      return <SettingsPage />;
    default:
      return (
        <div className="page">
          <h1>Not found</h1>
          <p>
            No page at <code>{path}</code>. <Link href="/workflows">Go to workflows</Link>.
          </p>
        </div>
      );
  }
}

/** A rendering bug shows as a message with a way back, never as a blank page. */
class Boundary extends Component<{ children: ReactNode }, { error: unknown }> {
  state = { error: null as unknown };
  static getDerivedStateFromError(error: unknown) {
    return { error };
  }
  render() {
    if (this.state.error) {
      return (
        <div className="page">
          <ErrorBanner error={this.state.error} />
          <button type="button" onClick={() => this.setState({ error: null })}>
            Try again
          </button>
        </div>
      );
    }
    return this.props.children;
  }
}

function SignIn({
  onSignedIn,
  expired,
  themeToggle,
}: {
  onSignedIn: (org: string) => void;
  expired: boolean;
  themeToggle: ReactNode;
}) {
  const [value, setValue] = useState("");
  const [error, setError] = useState<unknown>(
    expired ? new ApiError(401, "The API key was refused: sign in again.") : null,
  );
  const [busy, setBusy] = useState(false);
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const key = value.trim();
    if (!key) return;
    setBusy(true);
    setError(null);
    setKey(key);
    try {
      onSignedIn(await organizationOf());
    } catch (err) {
      setKey(null);
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="signin">
      <div className="signin-top">{themeToggle}</div>
      <form className="card" onSubmit={submit}>
        <h1>
          <img src="/favicon.svg" alt="" width={28} height={28} /> taskloom
        </h1>
        <p className="muted">
          Paste an API key (<code>taskloom keys create --org NAME</code>). It is kept for this
          browser tab only.
        </p>
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autoComplete="off"
          value={value}
          onChange={(e) => setValue(e.target.value)}
          autoFocus
        />
        <ErrorBanner error={error} />
        <button type="submit" className="primary" disabled={busy || !value.trim()}>
          {busy ? "Checking…" : "Sign in"}
        </button>
      </form>
    </div>
  );
}
