// The JSON-RPC classifier in process: every parsed value is a request, a notification, a response,
// or invalid with a reason and the id to answer under; and the nesting scan of raw JSON text.
import { expect } from "chai";
import { classify, errorResponse, JsonRpcError, nestsDeeperThan, resultResponse } from "../../internal/mcp/jsonrpc.js";

describe("unit: JSON-RPC classifier", () => {
  it("sorts well-formed messages into requests, notifications and responses", () => {
    const cases: Array<[unknown, string]> = [
      [{ jsonrpc: "2.0", id: 1, method: "ping" }, "request"],
      [{ jsonrpc: "2.0", id: "a", method: "tools/call", params: { name: "x" } }, "request"],
      [{ jsonrpc: "2.0", id: 0, method: "ping" }, "request"],
      [{ jsonrpc: "2.0", method: "notifications/initialized" }, "notification"],
      [{ jsonrpc: "2.0", method: "notifications/progress", params: {} }, "notification"],
      [{ jsonrpc: "2.0", id: 1, result: {} }, "response"],
      [{ jsonrpc: "2.0", id: "x", error: { code: -32601, message: "no" } }, "response"],
      [{ jsonrpc: "2.0", id: null, error: { code: -32700, message: "parse error" } }, "response"],
    ];
    for (const [value, kind] of cases) {
      const classified = classify(value);
      expect(classified.kind, JSON.stringify(value)).to.equal(kind);
      if (classified.kind !== "invalid") expect(classified.message, "the message is the value itself").to.equal(value);
    }
  });

  it("says why a value is not a message, with the id to answer under when it has a usable one", () => {
    const cases: Array<[unknown, string, string | number | null]> = [
      [null, "a JSON-RPC message must be an object", null],
      [[{ jsonrpc: "2.0", id: 1, method: "ping" }], "a JSON-RPC message must be an object", null],
      ["ping", "a JSON-RPC message must be an object", null],
      [{ id: 1, method: "ping" }, 'jsonrpc must be "2.0"', 1],
      [{ jsonrpc: "1.0", id: "a", method: "ping" }, 'jsonrpc must be "2.0"', "a"],
      [{ jsonrpc: "2.0", id: 2, method: "ping", params: [1] }, "params must be an object", 2],
      [{ jsonrpc: "2.0", id: 3, method: "ping", params: null }, "params must be an object", 3],
      [{ jsonrpc: "2.0", id: {}, method: "ping" }, "id must be a string or a number", null],
      [{ jsonrpc: "2.0", id: null, method: "ping" }, "id must be a string or a number", null],
      [{ jsonrpc: "2.0", id: Number.NaN, method: "ping" }, "id must be a string or a number", null],
      [{ jsonrpc: "2.0", id: 4, method: 5 }, "method must be a string", 4],
      [{ jsonrpc: "2.0", id: 5 }, "not a request, notification or response", 5],
      [{ jsonrpc: "2.0", id: 6, result: {}, error: { code: 1, message: "" } }, "not a request, notification or response", 6],
      [{ jsonrpc: "2.0", id: 7, result: "text" }, "not a request, notification or response", 7],
      [{ jsonrpc: "2.0", id: 8, error: { code: "x", message: "" } }, "not a request, notification or response", 8],
      [{ jsonrpc: "2.0", id: 9, error: "no" }, "not a request, notification or response", 9],
      [{ jsonrpc: "2.0", id: null, result: {} }, "not a request, notification or response", null],
      [{ jsonrpc: "2.0", result: {} }, "not a request, notification or response", null],
    ];
    for (const [value, reason, id] of cases) {
      expect(classify(value), JSON.stringify(value)).to.deep.equal({ kind: "invalid", reason, id });
    }
  });

  it("builds responses and error objects, with data only when there is some", () => {
    expect(resultResponse(1, { ok: true })).to.deep.equal({ jsonrpc: "2.0", id: 1, result: { ok: true } });
    expect(errorResponse(null, -32600, "bad")).to.deep.equal({ jsonrpc: "2.0", id: null, error: { code: -32600, message: "bad" } });
    expect(errorResponse("a", -32602, "bad", { at: "x" })).to.deep.equal({ jsonrpc: "2.0", id: "a", error: { code: -32602, message: "bad", data: { at: "x" } } });
    expect(new JsonRpcError(-32002, "missing").toObject()).to.deep.equal({ code: -32002, message: "missing" });
    expect(new JsonRpcError(-32002, "missing", { uri: "u" }).toObject()).to.deep.equal({ code: -32002, message: "missing", data: { uri: "u" } });
  });
});

describe("unit: nestsDeeperThan", () => {
  const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth);

  it("counts arrays and objects alike, and only past the limit", () => {
    expect(nestsDeeperThan(nested(3), 3)).to.equal(false);
    expect(nestsDeeperThan(nested(4), 3)).to.equal(true);
    expect(nestsDeeperThan('{"a":{"b":[{"c":1}]}}', 3)).to.equal(true);
    expect(nestsDeeperThan('{"a":{"b":[{"c":1}]}}', 4)).to.equal(false);
    expect(nestsDeeperThan("[[],[],[],[],[],[]]", 2), "siblings do not add up").to.equal(false);
  });

  it("ignores brackets inside strings, escaped quotes included", () => {
    expect(nestsDeeperThan(`["${"[".repeat(50)}"]`, 2)).to.equal(false);
    expect(nestsDeeperThan(`["\\"[[[[[[", 1]`, 2)).to.equal(false);
    expect(nestsDeeperThan(`["\\\\", [[[1]]]]`, 3), "an escaped backslash ends before the quote").to.equal(true);
  });

  it("a text no longer than the limit cannot nest deeper than it", () => {
    expect(nestsDeeperThan("[[[", 3)).to.equal(false);
    expect(nestsDeeperThan("[[[[", 3)).to.equal(true);
    expect(nestsDeeperThan(nested(200), 128)).to.equal(true);
  });
});
