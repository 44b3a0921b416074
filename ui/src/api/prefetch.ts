import { match, type Route } from "../router";
import { client, getKey } from "./client";

// A canvas page's first read, started with the navigation instead of after its code: those
// pages load xyflow lazily, and their read would otherwise wait for that chunk to download and
// evaluate (~200 ms on a laptop, measured by e2e/perf.spec.ts). One entry at a time, taken
// once: a later load of the same page reads afresh.
let pending: { key: string; value: Promise<unknown> } | null = null;

function keyOf(route: Route): string | null {
  if (route.page === "workflow") return `workflow:${route.id}`;
  if (route.page === "task") return `task:${route.id}`;
  return null;
}

/** Start the first read of the page at `path` (signed in only: a refused key is the sign-in
 * page's to report). */
export function prefetchPage(path: string): void {
  const route = match(path);
  const key = keyOf(route);
  pending = null;
  if (!key || getKey() === null) return;
  const value: Promise<unknown> =
    route.page === "workflow"
      ? client.getWorkflow(route.id)
      : route.page === "task"
        ? client.getTask(route.id)
        : Promise.resolve(null);
  value.catch(() => undefined); // reported by the page that takes it
  pending = { key, value };
}

/** The read started for `key` by the navigation, or a new one. */
export function take<T>(key: string, load: () => Promise<T>): Promise<T> {
  if (pending?.key === key) {
    const { value } = pending;
    pending = null;
    return value as Promise<T>;
  }
  return load();
}
