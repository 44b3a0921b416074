import createClient, { type Middleware } from "openapi-fetch";
import { describeDetail } from "./errors";
import type { paths } from "./schema";
import { SseParser } from "./sse";
import type {
  Agent,
  DeployedAgent,
  DeployedVersion,
  Page,
  Secret,
  Task,
  TaskEvent,
  TaskListItem,
  ThreadMessage,
  Trace,
  VersionInfo,
  Workflow,
} from "./types";

// The API key lives in this module and in sessionStorage only: never localStorage, never a URL.
const KEY = "taskloom.apiKey";
let apiKey: string | null = sessionStorage.getItem(KEY);

export function getKey(): string | null {
  return apiKey;
}
export function setKey(key: string | null): void {
  apiKey = key;
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

/** An error answer of the API, with the message a person should read. */
export { describeDetail, nodeOfError } from "./errors";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly detail: unknown = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

const auth: Middleware = {
  onRequest({ request }) {
    if (apiKey) request.headers.set("x-api-key", apiKey);
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: window.location.origin });
api.use(auth);

type Result<T> = { data?: T; error?: unknown; response: Response };

async function unwrap<T>(call: Promise<Result<unknown>>): Promise<T> {
  let result: Result<unknown>;
  try {
    result = await call;
  } catch (err) {
    throw new ApiError(0, `the server cannot be reached (${String(err)})`);
  }
  const { data, error, response } = result;
  if (!response.ok) {
    if (response.status === 401) onUnauthorized?.();
    throw new ApiError(response.status, describeDetail(response.status, error), error);
  }
  return data as T;
}

let onUnauthorized: (() => void) | null = null;
export function setUnauthorizedHandler(handler: (() => void) | null): void {
  onUnauthorized = handler;
}

export type InvokeBody =
  paths["/v1/workflows/{target_id}/invoke/async"]["post"]["requestBody"]["content"]["application/json"];
export type WorkflowBody =
  paths["/v1/workflows"]["post"]["requestBody"]["content"]["application/json"];
export type WorkflowPatchBody =
  paths["/v1/workflows/{workflow_id}"]["patch"]["requestBody"]["content"]["application/json"];
export type TaskQuery = NonNullable<paths["/v1/tasks"]["get"]["parameters"]["query"]>;
export type Target = "workflows" | "agents";
export type RunVersion = number | "draft" | undefined;

export const client = {
  listWorkflows: (page = 1, per_page = 50) =>
    unwrap<Page<Workflow>>(api.GET("/v1/workflows", { params: { query: { page, per_page } } })),
  getWorkflow: (workflow_id: string) =>
    unwrap<Workflow>(api.GET("/v1/workflows/{workflow_id}", { params: { path: { workflow_id } } })),
  createWorkflow: (body: WorkflowBody) => unwrap<Workflow>(api.POST("/v1/workflows", { body })),
  saveWorkflow: (workflow_id: string, body: WorkflowPatchBody, deploy = false) =>
    unwrap<Workflow>(
      api.PATCH("/v1/workflows/{workflow_id}", {
        params: { path: { workflow_id }, query: { deploy } },
        body,
      }),
    ),
  deployWorkflow: (workflow_id: string) =>
    unwrap<Workflow>(api.PUT("/v1/workflows/{workflow_id}", { params: { path: { workflow_id } } })),
  deleteWorkflow: (workflow_id: string) =>
    unwrap<unknown>(
      api.DELETE("/v1/workflows/{workflow_id}", { params: { path: { workflow_id } } }),
    ),

  listAgents: (page = 1, per_page = 50) =>
    unwrap<Page<Agent>>(api.GET("/v1/agents", { params: { query: { page, per_page } } })),
  getAgent: (agent_id: string) =>
    unwrap<Agent>(api.GET("/v1/agents/{agent_id}", { params: { path: { agent_id } } })),
  createAgent: (name: string) => unwrap<Agent>(api.POST("/v1/agents", { body: { name } as never })),
  saveAgent: (agent_id: string, body: Record<string, unknown>, deploy = false) =>
    unwrap<Agent>(
      api.PATCH("/v1/agents/{agent_id}", {
        params: { path: { agent_id }, query: { deploy } },
        body,
      }),
    ),
  deployAgent: (agent_id: string) =>
    unwrap<Agent>(api.PUT("/v1/agents/{agent_id}", { params: { path: { agent_id } } })),

  invokeAsync: (target: Target, target_id: string, body: InvokeBody, version?: RunVersion) =>
    target === "workflows"
      ? unwrap<Task>(
          api.POST("/v1/workflows/{target_id}/invoke/async", {
            params: { path: { target_id }, query: { version } },
            body,
          }),
        )
      : unwrap<Task>(
          api.POST("/v1/agents/{target_id}/invoke/async", {
            params: { path: { target_id }, query: { version } },
            body,
          }),
        ),

  listTasks: (query: TaskQuery) =>
    unwrap<Page<TaskListItem>>(api.GET("/v1/tasks", { params: { query } })),
  getTask: (task_id: string) =>
    unwrap<Task>(api.GET("/v1/tasks/{task_id}", { params: { path: { task_id } } })),
  stopTask: (task_id: string) =>
    unwrap<Task>(api.POST("/v1/tasks/{task_id}/stop", { params: { path: { task_id } } })),
  thread: (task_id: string) =>
    unwrap<ThreadMessage[]>(
      api.GET("/v1/tasks/{task_id}/thread", { params: { path: { task_id } } }),
    ),

  /** taskloom's own reads: a task's node runs with input and output, deployed versions */
  trace: (task_id: string) =>
    unwrap<Trace>(api.GET("/v1/tasks/{task_id}/trace", { params: { path: { task_id } } })),
  listVersions: (workflow_id: string) =>
    unwrap<VersionInfo[]>(
      api.GET("/v1/workflows/{workflow_id}/versions", { params: { path: { workflow_id } } }),
    ),
  getVersion: (workflow_id: string, version: number) =>
    unwrap<DeployedVersion>(
      api.GET("/v1/workflows/{workflow_id}/versions/{version}", {
        params: { path: { workflow_id, version } },
      }),
    ),

  getAgentVersion: (agent_id: string, version: number) =>
    unwrap<DeployedAgent>(
      api.GET("/v1/agents/{agent_id}/versions/{version}", {
        params: { path: { agent_id, version } },
      }),
    ),

  /** a paused task: decide its `hitl` wait, or resume its `webhook` wait with a body */
  approve: (task_id: string, comment?: string) =>
    unwrap<Task>(
      api.POST("/v1/tasks/{task_id}/approve", {
        params: { path: { task_id } },
        body: { comment: comment || null, decided_by: "web UI" },
      }),
    ),
  reject: (task_id: string, comment?: string) =>
    unwrap<Task>(
      api.POST("/v1/tasks/{task_id}/reject", {
        params: { path: { task_id } },
        body: { comment: comment || null, decided_by: "web UI" },
      }),
    ),
  resume: (task_id: string, body: unknown) =>
    unwrap<Task>(
      api.POST("/v1/tasks/{task_id}/resume", {
        params: { path: { task_id } },
        body: body as never,
      }),
    ),

  listSecrets: () => unwrap<{ items: Secret[] }>(api.GET("/v1/secrets")),
  putSecret: (name: string, value: string) =>
    unwrap<unknown>(api.PUT("/v1/secrets/{name}", { params: { path: { name } }, body: { value } })),
  deleteSecret: (name: string) =>
    unwrap<unknown>(api.DELETE("/v1/secrets/{name}", { params: { path: { name } } })),
};

/** Which kind of target runs a task: workflows and agents share ids' space but not routes. */
export async function targetOf(agentId: string): Promise<Target> {
  try {
    await client.getWorkflow(agentId);
    return "workflows";
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return "agents";
    throw err;
  }
}

export interface StreamOptions {
  signal: AbortSignal;
  onEvent: (event: TaskEvent) => void;
  lastEventId?: number;
}

/** Read an SSE route with `fetch` (EventSource cannot send `x-api-key`). Resolves when the
 * server ends the stream; rejects with an ApiError for an error answer. */
export async function readStream(
  path: string,
  init: { method: "GET" | "POST"; body?: unknown },
  options: StreamOptions,
): Promise<void> {
  const headers: Record<string, string> = { accept: "text/event-stream" };
  if (apiKey) headers["x-api-key"] = apiKey;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  if (options.lastEventId) headers["Last-Event-ID"] = String(options.lastEventId);
  let response: Response;
  try {
    response = await fetch(path, {
      method: init.method,
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: options.signal,
    });
  } catch (err) {
    if (options.signal.aborted) return;
    throw new ApiError(0, `the server cannot be reached (${String(err)})`);
  }
  if (!response.ok || !response.body) {
    let body: unknown = null;
    try {
      body = await response.json();
    } catch {
      // not JSON: the status says enough
    }
    if (response.status === 401) onUnauthorized?.();
    throw new ApiError(response.status, describeDetail(response.status, body), body);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SseParser();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const event of parser.push(value)) options.onEvent(event);
    }
  } catch (err) {
    if (options.signal.aborted) return;
    throw err;
  }
}

/** Follow a task's whole event log (`/v1/tasks/{id}/events`), reconnecting after a dropped
 * connection with `Last-Event-ID`, until the server ends the stream (task terminal). */
export async function followTask(
  taskId: string,
  options: StreamOptions & { untilTerminal?: boolean },
): Promise<void> {
  let last = options.lastEventId ?? 0;
  let failures = 0;
  const onEvent = (event: TaskEvent) => {
    if (event.seq) last = event.seq;
    options.onEvent(event);
  };
  for (;;) {
    try {
      await readStream(
        `/v1/tasks/${encodeURIComponent(taskId)}/events`,
        { method: "GET" },
        { ...options, onEvent, lastEventId: last },
      );
      return;
    } catch (err) {
      if (options.signal.aborted) return;
      if (err instanceof ApiError && err.status >= 400 && err.status < 500) throw err;
      failures += 1;
      if (failures > 5) throw err;
      await new Promise((resolve) => setTimeout(resolve, 500 * failures));
    }
  }
}
