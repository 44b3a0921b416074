import { useEffect, useMemo } from "react";
import { client, targetOf } from "../api/client";
import type { OrchestrationNode, Task } from "../api/types";
import { allNodeIds, subTaskTargets } from "../lib/layout";
import { formatDuration } from "../lib/runState";
import { useRun } from "../lib/useRun";
import { ApprovalPanel } from "./Approval";
import { Canvas } from "./Canvas";
import { ErrorBanner, StatusBadge, useLoad } from "./common";
import { Link } from "./Link";

/** Where a drill-down stands: each level is a sub-task some node of the level above started. */
export interface DrillLevel {
  taskId: string;
  /** the node (of the level above) that started it */
  nodeId: string;
}

interface Loaded {
  task: Task;
  /** the definition it runs, for a workflow; null for an agent */
  nodes: OrchestrationNode[] | null;
}

async function loadSubTask(taskId: string): Promise<Loaded> {
  const task = await client.getTask(taskId);
  if ((await targetOf(task.agent_id)) === "agents") return { task, nodes: null };
  const version = Number(task.agent_version);
  const workflow =
    version > 0
      ? await client.getVersion(task.agent_id, version)
      : await client.getWorkflow(task.agent_id);
  return { task, nodes: workflow.orchestration_nodes ?? [] };
}

/** A sub-task watched live (its own event stream) in place of its parent's canvas: a
 * workflow's on a canvas of its own (whose nodes drill further), an agent's as its streamed
 * answer and tool calls. The parent's run goes on underneath. */
export function SubTaskView({
  trail,
  onBack,
  onDrill,
}: {
  trail: DrillLevel[];
  /** to `depth` levels (0: the parent run itself) */
  onBack: (depth: number) => void;
  onDrill: (level: DrillLevel) => void;
}) {
  const here = trail[trail.length - 1] as DrillLevel;
  const { data, error } = useLoad(() => loadSubTask(here.taskId), [here.taskId]);
  const nodes = data?.nodes ?? null;
  const ids = useMemo(() => allNodeIds(nodes ?? []), [nodes]);
  const targets = useMemo(() => subTaskTargets(nodes ?? []), [nodes]);
  const run = useRun(ids, targets);
  const { watch, detach } = run;
  useEffect(() => {
    if (data) void watch(data.task, true);
    return detach;
  }, [data, watch, detach]);

  const task = run.view?.task ?? data?.task ?? null;
  const drill = run.view?.subTaskOf ?? {};
  const totalMs =
    task?.started_at && task.finished_at
      ? Date.parse(task.finished_at) - Date.parse(task.started_at)
      : null;
  return (
    <section className="drill" aria-label="Sub-task" data-testid="sub-task">
      <nav className="drill-bar" aria-label="Sub-task trail">
        <button type="button" onClick={() => onBack(0)}>
          ← Back to the run
        </button>
        {trail.map((level, i) => (
          <span key={level.taskId} className="drill-step">
            <span className="muted">›</span>{" "}
            {i < trail.length - 1 ? (
              <button type="button" className="link" onClick={() => onBack(i + 1)}>
                {level.nodeId}
              </button>
            ) : (
              <strong>{level.nodeId}</strong>
            )}
          </span>
        ))}
        <span className="muted small">sub-task</span>
        {task && <StatusBadge status={task.status} />}
        {totalMs !== null && <span className="muted small">{formatDuration(totalMs)}</span>}
        <span className="spacer" />
        {run.active && <span className="muted small live">● live</span>}
        <Link href={`/tasks/${here.taskId}`} className="small">
          Open its task page
        </Link>
      </nav>
      <ErrorBanner error={error ?? run.error} />
      {task && task.status === "paused" && (
        <div className="drill-approval">
          <ApprovalPanel task={task} onDecided={() => undefined} />
        </div>
      )}
      {data && nodes !== null && (
        <Canvas
          nodes={nodes}
          run={run.view}
          drill={drill}
          onDrill={(nodeId) => {
            const child = drill[nodeId];
            if (child) onDrill({ taskId: child, nodeId });
          }}
        />
      )}
      {data && nodes === null && (
        <div className="pad drill-agent" data-testid="sub-task-agent">
          {run.view?.toolCalls.map((c, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: calls only grow
            <div key={i} className="tool">
              ⚙ {c.name} {c.result === undefined ? "…" : c.isError ? "failed" : "done"}
            </div>
          ))}
          {task?.result != null && run.view?.finished ? (
            <pre className="output" data-testid="sub-task-result">
              {task.result}
            </pre>
          ) : (
            <pre className="output">{run.view?.chunks || "…"}</pre>
          )}
        </div>
      )}
    </section>
  );
}
