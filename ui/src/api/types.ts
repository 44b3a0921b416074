// Reply shapes of the taskloom API. Request bodies, paths and query parameters come from the
// generated `schema.d.ts`; most routes answer untyped JSON in the OpenAPI document, so the
// replies are written here from the server's wire code (engine/wire.py, api/models.py).

export type TaskStatus =
  | "pending"
  | "executing"
  | "paused"
  | "error"
  | "failed"
  | "completed"
  | "stopped";

export const TASK_STATUSES: TaskStatus[] = [
  "pending",
  "executing",
  "paused",
  "error",
  "failed",
  "completed",
  "stopped",
];

export const TERMINAL: ReadonlySet<string> = new Set(["completed", "error", "failed", "stopped"]);

export interface CountedTokens {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** Model usage. When a provider reported none for some call (`unreported_calls` > 0), the
 *  three counts are null and `counted` holds what the other calls reported. */
export interface Tokens {
  prompt_tokens: number | null;
  completion_tokens: number | null;
  total_tokens: number | null;
  unreported_calls?: number;
  counted?: CountedTokens;
}

export type NodeRunStatus = "running" | "completed" | "error" | "failed" | "skipped" | string;

export interface NodeRun {
  node_id: string;
  node_name: string;
  node_type: string;
  turn: number;
  step: string;
  iteration: number;
  status: NodeRunStatus;
  attempt: number;
  retry: number;
  started_at: string | null;
  finished_at: string | null;
  error: string | null;
  tokens?: Tokens;
}

export interface Task {
  id: string;
  agent_id: string;
  organization_id: string;
  input: { text?: string; [key: string]: unknown };
  status: TaskStatus;
  internal_status: string | null;
  agent_version: string;
  turn: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  result: string | null;
  parent_execution: string | null;
  sub_executions: string[];
  is_manually_stopped: boolean;
  title: string | null;
  source: string;
  tokens: Tokens;
  status_reason: string | null;
  status_message: string | null;
  paused_at?: string | null;
  hitl_request?: HitlRequest | null;
  node_runs?: NodeRun[];
}

/** What a paused task waits for (a `wait` node): a person's decision, or a webhook's call. */
export interface HitlRequest {
  wait_node_id: string;
  type: "hitl" | "webhook" | string;
  title: string;
  description: string;
  content: string;
  expires_at?: string | null;
}

/** GET /v1/tasks/{id}/trace: a node run with what went in (derived, see `input_source`) and
 * what came out. */
export interface TraceRun extends NodeRun {
  input: unknown;
  input_source:
    | "turn_input"
    | "previous_node"
    | "previous_iteration"
    | "parallel_parent"
    | "unknown";
  output: unknown;
  sub_task_id: string | null;
}

export interface Trace {
  task_id: string;
  turn: number;
  node_runs: TraceRun[];
}

export interface VersionInfo {
  version: number;
  created_at: string;
  is_latest: boolean;
}

/** GET /v1/workflows/{id}/versions/{n}: the workflow as that version defines it. */
export interface DeployedVersion extends Workflow {
  is_latest: boolean;
  deployed_at: string;
}

/** GET /v1/agents/{id}/versions/{n}: the agent as that version defines it. */
export interface DeployedAgent extends Agent {
  is_latest: boolean;
  deployed_at: string;
}

export interface TaskListItem {
  id: string;
  agent_id: string;
  organization_id: string;
  status: TaskStatus;
  user_id: string | null;
  parent_task_id: string | null;
  created_at: string;
  updated_at: string | null;
  result: string | null;
  title: string | null;
  status_reason: string | null;
  /** taskloom's: set only while the task is paused, so a list of paused tasks is an inbox */
  paused_at: string | null;
  hitl_request: HitlRequest | null;
}

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  per_page: number;
  total_pages: number;
}

export interface Condition {
  type?: string | null;
  term?: string | null;
  group_id?: string | null;
  path?: string | null;
  value?: unknown;
}

export interface OrchestrationNode {
  id: string;
  type: string;
  name?: string;
  description?: string | null;
  next_node_ids?: string[];
  condition?: Condition | null;
  definition?: Record<string, unknown>;
  retry_strategy?: { enabled?: boolean; max_retries?: number } | null;
  timeout_seconds?: number | null;
  [key: string]: unknown;
}

export interface Workflow {
  id: string;
  name: string;
  description?: string | null;
  organization_id: string;
  status: string;
  version: number;
  has_pending_changes: boolean;
  orchestration_nodes?: OrchestrationNode[];
  output_format?: string;
  created_at: string;
  updated_at: string | null;
  /** in list replies only: the workflow's newest task, null when it never ran */
  last_task?: LastTask | null;
}

export interface LastTask {
  id: string;
  status: string;
  created_at: string;
}

export interface Agent {
  id: string;
  name: string;
  description?: string | null;
  organization_id: string;
  status: string;
  version: number;
  has_pending_changes: boolean;
  instructions?: unknown;
  model_provider?: string | null;
  model_name?: string | null;
  llm_credentials_key?: string | null;
  output_format?: string | null;
  created_at: string;
}

export interface ThreadMessage {
  id: string;
  role: "user" | "assistant" | string;
  content: string | null;
  created_at: number;
}

export interface TaskEvent {
  /** SSE `id:` line: the event's sequence number in the task's log */
  seq: number;
  type: string;
  task_id: string;
  organization_id?: string;
  time: string;
  data: unknown;
}

export interface Secret {
  name: string;
  updated_at: string | null;
}
