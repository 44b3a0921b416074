import type { Tokens } from "../api/types";

/** What the calls that reported their usage used: all of it when none went uncounted. */
function countedPart(t: Tokens): { prompt: number; completion: number } {
  const c = t.unreported_calls ? t.counted : t;
  return { prompt: c?.prompt_tokens ?? 0, completion: c?.completion_tokens ?? 0 };
}

/** A tokens object as a person reads it: the total, or how much of it is unknown. */
export function formatTokens(t: Tokens | undefined): string {
  if (!t) return "—";
  const uncounted = t.unreported_calls ?? 0;
  const { prompt, completion } = countedPart(t);
  if (uncounted === 0) return String(prompt + completion);
  const calls = `${uncounted} call${uncounted > 1 ? "s" : ""} uncounted`;
  return prompt + completion > 0 ? `≥ ${prompt + completion} (${calls})` : `unknown (${calls})`;
}

/** The sum of several tokens objects: unknown as soon as one of them is. */
export function sumTokens(all: (Tokens | undefined)[]): Tokens {
  let prompt = 0;
  let completion = 0;
  let uncounted = 0;
  for (const t of all) {
    if (!t) continue;
    const part = countedPart(t);
    prompt += part.prompt;
    completion += part.completion;
    uncounted += t.unreported_calls ?? 0;
  }
  const counted = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
  };
  if (uncounted === 0) return { ...counted, unreported_calls: 0 };
  return {
    prompt_tokens: null,
    completion_tokens: null,
    total_tokens: null,
    unreported_calls: uncounted,
    counted,
  };
}
