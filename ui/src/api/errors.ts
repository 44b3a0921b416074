interface ValidationProblem {
  loc?: (string | number)[];
  msg?: string;
}

/** FastAPI's `detail`, as one readable line: a string as is, a 422 list as `where: what`. */
export function describeDetail(status: number, body: unknown): string {
  const detail = (body as { detail?: unknown } | null)?.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((p: ValidationProblem) => {
        const where = (p.loc ?? []).filter((part) => part !== "body").join(".");
        return where ? `${where}: ${p.msg ?? "invalid"}` : (p.msg ?? "invalid");
      })
      .join("; ");
  }
  if (status === 0) return "the server cannot be reached";
  return `HTTP ${status}`;
}

/** The node a validation message is about: `node 'x' ...` or `orchestration_nodes.3...`. */
export function nodeOfError(message: string, nodeIds: string[]): string | null {
  const named = /node(?:_pointer)? '([^']+)'/.exec(message) ?? /node id '([^']+)'/.exec(message);
  if (named?.[1] && nodeIds.includes(named[1])) return named[1];
  const indexed = /orchestration_nodes\.(\d+)/.exec(message);
  if (indexed?.[1]) return nodeIds[Number(indexed[1])] ?? null;
  return null;
}
