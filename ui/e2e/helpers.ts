import { expect, type Page } from "@playwright/test";

// What every end-to-end spec needs of the real server that e2e/server.ts starts: its key,
// plain API calls beside the browser, and a signed-in page.

export function key(): string {
  const value = process.env.TASKLOOM_E2E_KEY;
  if (!value) throw new Error("no API key: the global setup did not run");
  return value;
}

export async function api<T>(
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<T> {
  const response = await fetch(`${process.env.TASKLOOM_E2E_BASE}${path}`, {
    method: init.method ?? "GET",
    headers: { "x-api-key": key(), "content-type": "application/json" },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

export const code = (body: string) => ({ code: `def main(input):\n    ${body}\n` });

export async function createWorkflow(
  name: string,
  nodes: unknown[],
  deploy = true,
): Promise<string> {
  const workflow = await api<{ id: string }>("/v1/workflows", {
    method: "POST",
    body: { name, orchestration_nodes: nodes },
  });
  if (deploy) await api(`/v1/workflows/${workflow.id}`, { method: "PUT" });
  return workflow.id;
}

export async function signIn(page: Page, path = "/") {
  await page.goto(path);
  await page.getByLabel("API key").fill(key());
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("organization")).toBeVisible();
}
