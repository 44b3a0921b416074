import { describe, expect, it } from "vitest";
import { agentSettings } from "./agentSettings";
import { jsonDiff } from "./jsonDiff";

describe("agentSettings", () => {
  it("keeps what the page edits and drops what differs between any two replies", () => {
    const v1 = { id: "a", version: 1, created_at: "t1", name: "bot", model_name: "m1", tools: [] };
    const v2 = { id: "a", version: 2, created_at: "t2", name: "bot", model_name: "m2", tools: [] };
    const changed = jsonDiff(agentSettings(v1), agentSettings(v2)).filter((l) => l.kind !== "same");
    expect(changed).toEqual([
      { kind: "del", text: '  "model_name": "m1",' },
      { kind: "add", text: '  "model_name": "m2",' },
    ]);
  });

  it("shows a setting a version lacks as null", () => {
    expect(agentSettings({ name: "bot" }).output_schema).toBeNull();
  });
});
