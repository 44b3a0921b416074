import { describe, expect, it } from "vitest";
import { jsonDiff, lineDiff } from "./jsonDiff";

describe("jsonDiff", () => {
  it("marks only the lines that changed", () => {
    const lines = jsonDiff({ a: 1, b: "x", c: true }, { a: 1, b: "y", c: true });
    expect(lines.filter((l) => l.kind !== "same")).toEqual([
      { kind: "del", text: '  "b": "x",' },
      { kind: "add", text: '  "b": "y",' },
    ]);
  });

  it("ignores key order", () => {
    expect(jsonDiff({ a: 1, b: 2 }, { b: 2, a: 1 }).every((l) => l.kind === "same")).toBe(true);
  });

  it("an added value is all additions, a removed one all deletions", () => {
    expect(jsonDiff(undefined, { a: 1 }).map((l) => l.kind)).toEqual(["add", "add", "add"]);
    expect(jsonDiff({ a: 1 }, undefined).map((l) => l.kind)).toEqual(["del", "del", "del"]);
  });

  it("keeps the common lines in order around an insertion", () => {
    expect(lineDiff("a\nb\nc", "a\nx\nb\nc").map((l) => `${l.kind}:${l.text}`)).toEqual([
      "same:a",
      "add:x",
      "same:b",
      "same:c",
    ]);
  });
});
