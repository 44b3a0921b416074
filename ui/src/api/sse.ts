import type { TaskEvent } from "./types";

/** Incremental parser of a `text/event-stream` body (the subset taskloom writes: `id:` and
 * `data:` lines, events separated by a blank line). Feed it chunks; it returns whole events. */
export class SseParser {
  private buffer = "";

  push(chunk: string): TaskEvent[] {
    this.buffer += chunk.replace(/\r\n?/g, "\n");
    const out: TaskEvent[] = [];
    let end = this.buffer.indexOf("\n\n");
    while (end >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const event = parseBlock(block);
      if (event) out.push(event);
      end = this.buffer.indexOf("\n\n");
    }
    return out;
  }
}

export function parseBlock(block: string): TaskEvent | null {
  let id: string | null = null;
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "id") id = value;
    else if (field === "data") data.push(value);
  }
  if (data.length === 0) return null;
  try {
    const envelope = JSON.parse(data.join("\n")) as Omit<TaskEvent, "seq">;
    return { ...envelope, seq: id === null ? 0 : Number(id) };
  } catch {
    return null;
  }
}
