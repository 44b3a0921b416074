import { describe, expect, it } from "vitest";
import { formatTokens, sumTokens } from "./tokens";

const known = { prompt_tokens: 30, completion_tokens: 5, total_tokens: 35, unreported_calls: 0 };
const unknown = {
  prompt_tokens: null,
  completion_tokens: null,
  total_tokens: null,
  unreported_calls: 1,
  counted: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
};

describe("tokens", () => {
  it("shows a known total as a number", () => {
    expect(formatTokens(known)).toBe("35");
  });

  it("never shows an unreported count as 0", () => {
    expect(formatTokens(unknown)).toBe("unknown (1 call uncounted)");
  });

  it("sums to unknown as soon as one part is, keeping what was counted", () => {
    const total = sumTokens([known, unknown, undefined]);
    expect(total.total_tokens).toBeNull();
    expect(total.unreported_calls).toBe(1);
    expect(formatTokens(total)).toBe("≥ 35 (1 call uncounted)");
  });

  it("sums known parts to a plain number", () => {
    expect(sumTokens([known, known]).total_tokens).toBe(70);
  });
});
