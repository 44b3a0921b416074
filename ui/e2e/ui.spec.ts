import { expect, test } from "@playwright/test";
import { code, createWorkflow, key, signIn } from "./helpers";

const SHOTS = "screenshots";

test("a wrong key is refused with a message, and the key is never in localStorage", async ({
  page,
}) => {
  await page.goto("/");
  await page.getByLabel("API key").fill("tlk_not-a-key");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText("invalid API key");
  await page.screenshot({ path: `${SHOTS}/signin-error.png` });
  await signIn(page);
  const stored = await page.evaluate(() => JSON.stringify(window.localStorage));
  expect(stored).not.toContain(key());
  expect(page.url()).not.toContain(key());
});

test("workflows list and the canvas: every node, a parallel group, conditions as labels", async ({
  page,
}) => {
  const id = await createWorkflow("Canvas demo", [
    {
      id: "first",
      type: "code",
      name: "first",
      next_node_ids: ["fan"],
      definition: code("return input"),
    },
    {
      id: "fan",
      type: "parallel",
      name: "fan out",
      next_node_ids: ["yes", "no"],
      definition: {
        nodes: [
          { id: "left", type: "code", name: "left", definition: code("return 1") },
          { id: "right", type: "code", name: "right", definition: code("return 2") },
        ],
      },
    },
    {
      id: "yes",
      type: "code",
      name: "yes branch",
      condition: { type: "contains", value: "x" },
      definition: code("return 'y'"),
    },
    {
      id: "no",
      type: "code",
      name: "no branch",
      condition: { type: "else" },
      definition: code("return 'n'"),
    },
  ]);
  await signIn(page);
  await expect(page.getByTestId("workflows")).toContainText("Canvas demo");
  await expect(page.getByRole("row", { name: /Canvas demo/ })).toContainText("never run");
  await page.screenshot({ path: `${SHOTS}/workflows.png` });
  await page.getByRole("link", { name: "Canvas demo" }).click();
  await expect(page).toHaveURL(new RegExp(`/workflows/${id}$`));
  for (const name of ["first", "fan out", "left", "right", "yes branch", "no branch"]) {
    await expect(page.getByTestId(`node-${name}`)).toBeVisible();
  }
  await expect(page.locator(".react-flow__edge-text", { hasText: "else" })).toBeVisible();
  await expect(page.locator(".react-flow__edge-text", { hasText: 'contains "x"' })).toBeVisible();
  await page.screenshot({ path: `${SHOTS}/canvas.png` });
  // a reload keeps the page: the server answers the client route with the app
  await page.reload();
  await expect(page.getByTestId("node-fan out")).toBeVisible();
  // keyboard: a focused node is selected with Enter and opens in the side panel
  await page.locator('.react-flow__node[data-id="first"]').focus();
  await page.keyboard.press("Enter");
  await expect(page.getByLabel("Id")).toHaveValue("first");
  // rename it from the Changes tab
  await page.getByRole("tab", { name: /Changes/ }).click();
  await page.getByLabel("Name").fill("Canvas demo renamed");
  await page.getByRole("button", { name: "Save details" }).click();
  await expect(page.getByRole("heading", { name: "Canvas demo renamed" })).toBeVisible();
});

test("run a workflow: nodes turn completed live and the result shows; then read its task", async ({
  page,
}) => {
  const id = await createWorkflow("Run demo", [
    {
      id: "up",
      type: "code",
      name: "upper",
      next_node_ids: ["slow"],
      definition: code("return input.upper()"),
    },
    {
      id: "slow",
      type: "code",
      name: "slow",
      next_node_ids: ["count"],
      definition: {
        code: "import time\ndef main(input):\n    time.sleep(1.5)\n    return input\n",
      },
    },
    {
      id: "count",
      type: "code",
      name: "count",
      definition: code('return {"text": input, "chars": len(input)}'),
    },
  ]);
  await signIn(page, `/workflows/${id}`);
  await page.getByLabel("Input", { exact: true }).fill("hello loom");
  await page.getByRole("button", { name: "Run ▶" }).click();
  await expect(page.getByTestId("node-slow")).toHaveAttribute("data-state", "running");
  await expect(page.getByTestId("node-upper")).toHaveAttribute("data-state", "completed");
  await page.screenshot({ path: `${SHOTS}/run-live.png` });
  for (const name of ["upper", "slow", "count"]) {
    await expect(page.getByTestId(`node-${name}`)).toHaveAttribute("data-state", "completed");
  }
  await expect(page.getByTestId("result")).toContainText('"chars": 10');
  await expect(page.getByTestId("result")).toContainText("HELLO LOOM");
  await page.screenshot({ path: `${SHOTS}/run-done.png` });

  await page.getByRole("link", { name: "Open task" }).click();
  await expect(page.getByTestId("timeline")).toContainText("slow");
  await expect(page.getByTestId("timeline").locator("tbody tr")).toHaveCount(3);
  await expect(page.getByTestId("task-result")).toContainText("HELLO LOOM");
  await page.screenshot({ path: `${SHOTS}/task.png`, fullPage: true });

  // a second turn on the same task, from the conversation tab
  await page.getByRole("tab", { name: "Conversation" }).click();
  await expect(page.getByTestId("thread")).toContainText("hello loom");
  await page.getByLabel("Next turn").fill("second turn");
  await page.getByRole("button", { name: "Send" }).click();
  await expect(page.getByTestId("thread").locator(".msg.user")).toHaveCount(2);
  await expect(page.getByTestId("thread")).toContainText("SECOND TURN", { timeout: 20_000 });
  await page.screenshot({ path: `${SHOTS}/thread.png` });
  await page.getByRole("tab", { name: /Event log/ }).click();
  await expect(page.getByTestId("event-log")).toContainText("node_finished");
  await expect(page.getByTestId("event-log")).toContainText("task_finished");

  // the tasks list filters by this workflow
  await page.goto(`/tasks?agent_id=${id}`);
  await expect(page.getByTestId("tasks").locator("tbody tr")).toHaveCount(1);
  await page.screenshot({ path: `${SHOTS}/tasks.png` });

  // the workflows list shows how it last ran, from the list reply itself
  await page.goto("/workflows");
  await expect(page.getByRole("row", { name: /Run demo/ })).toContainText("completed");
});

test("stop a running task", async ({ page }) => {
  const id = await createWorkflow("Sleeper", [
    {
      id: "nap",
      type: "code",
      name: "nap",
      definition: { code: "import time\ndef main(input):\n    time.sleep(30)\n    return input\n" },
    },
  ]);
  await signIn(page, `/workflows/${id}`);
  await page.getByLabel("Input", { exact: true }).fill("zzz");
  await page.getByRole("button", { name: "Run ▶" }).click();
  await expect(page.getByTestId("node-nap")).toHaveAttribute("data-state", "running");
  await page.getByRole("button", { name: "Stop" }).click();
  await expect(page.getByTestId("run-result")).toContainText("stopped");
  await expect(page.getByTestId("node-nap")).toHaveAttribute("data-state", "error");
});

test("build a two-node workflow on the canvas, deploy, run; edits make a draft; a server error lands on its node", async ({
  page,
}) => {
  await signIn(page, "/workflows");
  await page.getByLabel("New workflow name").fill("Built on canvas");
  await page.getByRole("button", { name: "Create" }).click();
  await expect(page.getByTestId("node-start")).toBeVisible();
  // select the first node, add a code node after it, give it code
  await page.getByTestId("node-start").click();
  await page.getByLabel("Node type to add").selectOption("code");
  await page.getByRole("button", { name: "+ Add node" }).click();
  await expect(page.getByTestId("node-code_1")).toBeVisible();
  const editor = page.locator(".cm-content");
  await editor.click();
  await page.keyboard.press("ControlOrMeta+a");
  await page.keyboard.type('def main(input):\nreturn "done: " + input\n');
  await expect(page.getByTestId("unsaved")).toBeVisible();
  await page.screenshot({ path: `${SHOTS}/edit.png` });
  await page.getByRole("button", { name: "Deploy" }).click();
  await expect(page.getByRole("status")).toContainText("Deployed version 1");
  await page.getByRole("tab", { name: "Run" }).click();
  await page.getByLabel("Input", { exact: true }).fill("two nodes");
  await page.getByRole("button", { name: "Run ▶" }).click();
  await expect(page.getByTestId("node-start")).toHaveAttribute("data-state", "completed");
  await expect(page.getByTestId("node-code_1")).toHaveAttribute("data-state", "completed");
  await expect(page.getByTestId("result")).toContainText("done: two nodes");

  // an edit after the deploy: the changes tab lists it, saving makes a pending draft
  await page.getByTestId("node-code_1").click();
  await page.getByLabel("Name").fill("finisher");
  await page.getByRole("tab", { name: /Changes/ }).click();
  await expect(page.getByTestId("changes")).toContainText("code_1 changed (name)");
  await page.getByRole("button", { name: "Save draft" }).click();
  await expect(page.getByText("draft pending")).toBeVisible();

  // a pointer to a node that does not exist: the server's 422 is shown on that node
  await page.getByLabel("Node type to add").selectOption("node_pointer");
  await page.getByRole("button", { name: "+ Add node" }).click();
  await page.getByLabel("Definition (JSON)").fill('{"source_node_id": "nowhere"}');
  await page.getByRole("button", { name: "Save draft" }).click();
  await expect(page.getByTestId("node-node_pointer_1")).toContainText("points at unknown node");
  await page.screenshot({ path: `${SHOTS}/validation.png` });
});

test("settings: secrets by name, dark theme", async ({ page }) => {
  await signIn(page, "/settings");
  await page.getByLabel("Name").fill("openai-key");
  await page.getByLabel("Value").fill("sk-test-123");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("secrets")).toContainText("openai-key");
  await expect(page.locator("body")).not.toContainText("sk-test-123");
  await page.getByRole("button", { name: /Switch to dark theme/ }).click();
  await page.screenshot({ path: `${SHOTS}/settings-dark.png` });
  const id = await createWorkflow("Dark demo", [
    {
      id: "a",
      type: "code",
      name: "alpha",
      next_node_ids: ["b"],
      definition: code("return input"),
    },
    { id: "b", type: "code", name: "beta", definition: code("return input") },
  ]);
  await page.goto(`/workflows/${id}`);
  await expect(page.getByTestId("node-beta")).toBeVisible();
  await page.screenshot({ path: `${SHOTS}/canvas-dark.png` });
});

test("an agent: edit, deploy, chat over two turns with a (fake) model", async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, "/agents");
  await page.getByLabel("New agent name").fill("Helper");
  await page.getByRole("button", { name: "Create" }).click();
  await expect(page.getByRole("heading", { name: "Helper" })).toBeVisible();
  await page.getByLabel("Model provider").fill("openai");
  await page.getByLabel("Model name").fill("fake");
  await page.getByLabel("API base URL").fill(process.env.TASKLOOM_E2E_FAKE_MODEL ?? "");
  await page.getByLabel("Instructions").fill("Answer briefly.");
  await page.getByRole("button", { name: "Save and deploy" }).click();
  await expect(page.getByRole("status")).toContainText("Deployed version 1");
  await page.getByLabel("Message").fill("hello agent");
  await page.getByRole("button", { name: "Send" }).click();
  // the server's first model call imports its provider SDK: seconds on a busy machine
  await expect(page.locator(".chat .msg.assistant")).toContainText("fake reply to: hello agent", {
    timeout: 60_000,
  });
  await page.getByLabel("Message").fill("and again");
  await page.getByRole("button", { name: "Send" }).click();
  await expect(page.locator(".chat .msg.assistant").nth(1)).toContainText(
    "fake reply to: and again",
  );
  await page.screenshot({ path: `${SHOTS}/agent.png` });
  // both turns are one task: its conversation has four messages
  await page.locator(".chat").getByRole("link").click();
  await page.getByRole("tab", { name: "Conversation" }).click();
  await expect(page.getByTestId("thread").locator(".msg")).toHaveCount(4);
});

test("serving: the app at / and its routes; the API, /docs, /openapi.json and /health unchanged", async ({
  request,
}) => {
  for (const path of [
    "/",
    "/workflows",
    "/workflows/x",
    "/tasks/y",
    "/agents",
    "/agents/edit/z",
    "/settings",
  ]) {
    const response = await request.get(path);
    expect(response.status(), path).toBe(200);
    expect(await response.text(), path).toContain('<div id="root">');
  }
  expect((await request.get("/health")).status()).toBe(200);
  expect((await (await request.get("/health")).json()).status).toBe("ok");
  expect((await request.get("/docs")).headers()["content-type"]).toContain("text/html");
  expect((await (await request.get("/openapi.json")).json()).paths["/v1/workflows"]).toBeTruthy();
  expect((await request.get("/v1/workflows")).status()).toBe(401);
  expect((await request.get("/no-such-page")).status()).toBe(404);
  expect((await request.get("/v1/no-such-route")).status()).toBe(404);
});
