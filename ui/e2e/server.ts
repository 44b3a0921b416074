import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

// A real `taskloom serve` on a fresh SQLite database, with a real API key, for the whole run.
const ROOT = resolve(import.meta.dirname, "../..");
const TASKLOOM = join(ROOT, ".venv/bin/taskloom");

export default async function globalSetup(): Promise<() => Promise<void>> {
  const port = Number(process.env.TASKLOOM_E2E_PORT ?? 8078);
  const dir = mkdtempSync(join(tmpdir(), "taskloom-e2e-"));
  const db = `sqlite:///${join(dir, "e2e.db")}`;
  const key = execFileSync(TASKLOOM, ["keys", "create", "--org", "e2e", "--database-url", db], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  })
    .trim()
    .split("\n")
    .pop() as string;
  // an OpenAI-compatible fake model (the benchmark's), so agents answer without a provider
  const fake: ChildProcess = spawn(
    join(ROOT, ".venv/bin/python"),
    [join(ROOT, "bench/fake_model.py"), "--delay", "0.05"],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const fakePort = await new Promise<number>((resolvePort, reject) => {
    let out = "";
    fake.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) resolvePort(Number(m[1]));
    });
    fake.on("exit", () => reject(new Error("the fake model exited")));
  });
  const fakeApiBase = `http://127.0.0.1:${fakePort}/v1`;
  const server: ChildProcess = spawn(
    TASKLOOM,
    ["serve", "--port", String(port), "--database-url", db],
    {
      stdio: ["ignore", "ignore", "pipe"],
      env: {
        ...process.env,
        TASKLOOM_LOG_LEVEL: "warning",
        TASKLOOM_SECRET_KEY: randomBytes(24).toString("hex"),
        TASKLOOM_LLM_ALLOWED_API_BASES: JSON.stringify([fakeApiBase]),
        OPENAI_API_KEY: "",
        ANTHROPIC_API_KEY: "",
      },
    },
  );
  let log = "";
  server.stderr?.on("data", (chunk: Buffer) => {
    log += chunk.toString();
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`taskloom serve exited:\n${log}`);
    try {
      if ((await fetch(`${base}/health`)).ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`taskloom serve did not answer /health:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const index = await fetch(`${base}/`);
  if (!(await index.text()).includes('id="root"')) {
    throw new Error("the server does not serve the built UI at /: run `make ui` first");
  }
  process.env.TASKLOOM_E2E_KEY = key;
  process.env.TASKLOOM_E2E_BASE = base;
  process.env.TASKLOOM_E2E_DB = join(dir, "e2e.db");
  process.env.TASKLOOM_E2E_FAKE_MODEL = fakeApiBase;
  return async () => {
    server.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 500));
    if (server.exitCode === null) server.kill("SIGKILL");
    fake.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
}
