import { describe, expect, it } from "vitest";
import { describeDetail, nodeOfError } from "./errors";
import { SseParser } from "./sse";

describe("SseParser", () => {
  it("parses id and data across chunk boundaries", () => {
    const p = new SseParser();
    expect(p.push('id: 7\ndata: {"type":"chunk","task_id":"t","time":"x",')).toEqual([]);
    const out = p.push(
      '"data":"hi"}\n\nid: 8\r\ndata: {"type":"task_finished","task_id":"t","time":"y","data":{}}\r\n\r\n',
    );
    expect(out.map((e) => [e.seq, e.type])).toEqual([
      [7, "chunk"],
      [8, "task_finished"],
    ]);
    expect(out[0]?.data).toBe("hi");
  });
  it("skips comments and blocks without data", () => {
    expect(new SseParser().push(": keep-alive\n\nid: 1\n\n")).toEqual([]);
  });
});

describe("API errors", () => {
  it("turns FastAPI details into one line", () => {
    expect(describeDetail(404, { detail: "task not found" })).toBe("task not found");
    expect(
      describeDetail(422, {
        detail: [
          { loc: ["body", "orchestration_nodes", 1, "id"], msg: "Field required" },
          { loc: ["body"], msg: "bad" },
        ],
      }),
    ).toBe("orchestration_nodes.1.id: Field required; bad");
    expect(describeDetail(500, null)).toBe("HTTP 500");
  });
  it("finds the node an error is about", () => {
    const ids = ["a", "b", "ptr"];
    expect(nodeOfError("node_pointer 'ptr' points at unknown node 'x'", ids)).toBe("ptr");
    expect(nodeOfError("node 'b' (code) definition: code: too short", ids)).toBe("b");
    expect(nodeOfError("orchestration_nodes.0.id: Field required", ids)).toBe("a");
    expect(nodeOfError("the graph has a cycle", ids)).toBeNull();
  });
});
