import { useCallback, useEffect, useRef, useState } from "react";
import {
  client,
  followTask,
  type InvokeBody,
  type RunVersion,
  readStream,
  type Target,
} from "../api/client";
import { type Task, type TaskEvent, TERMINAL } from "../api/types";
import { emptyRun, type RunView, reduceEvent, viewFromTask } from "./runState";

const NO_TARGETS: Record<string, string> = {};

/** A run shown live: start one (invoke/stream), or follow an existing task (its event log,
 * resumed with Last-Event-ID). Events fold into a RunView as they arrive. */
export function useRun(nodeIds: string[], targets: Record<string, string> = NO_TARGETS) {
  const [view, setView] = useState<RunView | null>(null);
  const [events, setEvents] = useState<TaskEvent[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [active, setActive] = useState(false);
  const abort = useRef<AbortController | null>(null);
  const ids = useRef(nodeIds);
  ids.current = nodeIds;
  const named = useRef(targets);
  named.current = targets;

  useEffect(() => () => abort.current?.abort(), []);

  const onEvent = useCallback((event: TaskEvent) => {
    setEvents((list) => [...list, event]);
    setView((v) => reduceEvent(v ?? emptyRun(ids.current, named.current), event));
  }, []);

  const follow = useCallback(
    async (taskId: string, lastEventId: number, signal: AbortSignal) => {
      await followTask(taskId, { signal, onEvent, lastEventId });
    },
    [onEvent],
  );

  const start = useCallback(
    async (target: Target, targetId: string, body: InvokeBody, version?: RunVersion) => {
      abort.current?.abort();
      const controller = new AbortController();
      abort.current = controller;
      setError(null);
      setEvents([]);
      setView(emptyRun(ids.current, named.current));
      setActive(true);
      let taskId: string | null = null;
      let last = 0;
      let finished = false;
      const track = (event: TaskEvent) => {
        taskId = event.task_id;
        if (event.seq) last = event.seq;
        if (event.type === "task_finished") finished = true;
        onEvent(event);
      };
      try {
        const query =
          version === undefined ? "" : `?version=${encodeURIComponent(String(version))}`;
        await readStream(
          `/v1/${target}/${encodeURIComponent(targetId)}/invoke/stream${query}`,
          { method: "POST", body },
          { signal: controller.signal, onEvent: track },
        );
        // the connection dropped before the end: pick the log up where it stopped
        if (!finished && taskId && !controller.signal.aborted)
          await follow(taskId, last, controller.signal);
      } catch (err) {
        if (!controller.signal.aborted) setError(err);
      } finally {
        if (abort.current === controller) setActive(false);
      }
    },
    [onEvent, follow],
  );

  /** Show an existing task: its trace at once, then its live events while it runs. */
  const watch = useCallback(
    async (task: Task, withLog: boolean) => {
      abort.current?.abort();
      const controller = new AbortController();
      abort.current = controller;
      setError(null);
      setEvents([]);
      setView(viewFromTask(task, ids.current, named.current));
      if (!withLog && TERMINAL.has(task.status)) return;
      setActive(!TERMINAL.has(task.status));
      try {
        // the whole log: it rebuilds the node states of the latest turn as they happened
        setView(emptyRun(ids.current, named.current));
        await follow(task.id, 0, controller.signal);
        if (!controller.signal.aborted) {
          const fresh = await client.getTask(task.id);
          setView((v) => ({
            ...(v ?? viewFromTask(fresh, ids.current, named.current)),
            task: fresh,
          }));
        }
      } catch (err) {
        if (!controller.signal.aborted) setError(err);
      } finally {
        if (abort.current === controller) setActive(false);
      }
    },
    [follow],
  );

  const stop = useCallback(async () => {
    const taskId = view?.task?.id;
    if (!taskId) return;
    try {
      await client.stopTask(taskId);
    } catch (err) {
      setError(err);
    }
  }, [view]);

  const detach = useCallback(() => abort.current?.abort(), []);

  return { view, events, error, active, start, watch, stop, detach, setError };
}
