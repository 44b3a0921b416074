// What an agent's version is made of, as a person compares two of them: the settings the agent
// page edits, without the bookkeeping (ids, times, version numbers, deploy state) that differs
// between any two replies. Pure; the agent page diffs these with jsonDiff.

export const AGENT_SETTINGS = [
  "name",
  "description",
  "instructions",
  "model_provider",
  "model_name",
  "llm_api_base",
  "llm_credentials_key",
  "output_format",
  "output_schema",
  "tools",
  "mcp_servers",
] as const;

/** The settings of an agent reply (a draft or a deployed version), absent ones as null. */
export function agentSettings(agent: object): Record<string, unknown> {
  const raw = agent as Record<string, unknown>;
  return Object.fromEntries(AGENT_SETTINGS.map((k) => [k, raw[k] ?? null]));
}
