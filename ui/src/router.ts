import { useSyncExternalStore } from "react";

// A tiny history router: the UI has a handful of pages, and the server answers index.html for
// each of their first path segments (src/taskloom/api/ui.py, CLIENT_ROUTES).
const listeners = new Set<() => void>();

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  window.addEventListener("popstate", listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener("popstate", listener);
  };
}

let onNavigate: ((path: string) => void) | null = null;
/** Called with each path navigated to, before the page renders (to start its first read). */
export function setNavigateHook(hook: ((path: string) => void) | null): void {
  onNavigate = hook;
}

export function navigate(to: string, replace = false): void {
  onNavigate?.(new URL(to, window.location.origin).pathname);
  if (replace) window.history.replaceState(null, "", to);
  else window.history.pushState(null, "", to);
  for (const listener of listeners) listener();
}

export function useLocation(): { path: string; search: URLSearchParams } {
  const href = useSyncExternalStore(
    subscribe,
    () => window.location.pathname + window.location.search,
  );
  const url = new URL(href, window.location.origin);
  return { path: url.pathname, search: url.searchParams };
}

export type Route =
  | { page: "workflows" }
  | { page: "workflow"; id: string }
  | { page: "tasks" }
  | { page: "inbox" }
  | { page: "task"; id: string }
  | { page: "agents" }
  | { page: "agent"; id: string }
  | { page: "settings" }
  | { page: "notFound" };

export function match(path: string): Route {
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const [first, second, third] = parts;
  if (!first || (first === "workflows" && !second)) return { page: "workflows" };
  if (first === "workflows" && second && !third) return { page: "workflow", id: second };
  if (first === "tasks" && !second) return { page: "tasks" };
  if (first === "tasks" && second && !third) return { page: "task", id: second };
  if (first === "inbox" && !second) return { page: "inbox" };
  if (first === "agents" && !second) return { page: "agents" };
  // `/agents/{id}` is an xpander-sdk route of the server: the UI's agent pages live one deeper
  if (first === "agents" && second === "edit" && third) return { page: "agent", id: third };
  if (first === "settings") return { page: "settings" };
  return { page: "notFound" };
}
