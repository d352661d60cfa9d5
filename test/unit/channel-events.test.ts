// The events replicas publish on the shared store's channel: what a replica acts on is only what
// the schemas accept, whatever else arrives there.
import { expect } from "chai";
import { parseChannelEvent } from "../../internal/session/channel-events.js";

describe("unit: channel events", () => {
  it("reads each kind of event the replicas publish", () => {
    const events = [
      { type: "closed", session: "s" },
      { type: "deliver", session: "s", message: { jsonrpc: "2.0", method: "notifications/message", params: { level: "info" } } },
      { type: "cancel", session: "s", params: { requestId: 1 } },
      { type: "answer", session: "s", response: { jsonrpc: "2.0", id: "gw-1.x", result: {} } },
      { type: "retry", replica: "r", from: "q", ticket: "t", requestState: "gwp1.x.y", origin: { caller: "", method: "tools/call", name: "a" }, inputResponses: { k: {} } },
      { type: "retry-alive", replica: "r", ticket: "t" },
      { type: "retry-gone", replica: "r", ticket: "t" },
      { type: "retried", replica: "q", ticket: "t", outcome: { kind: "accepted" } },
      { type: "retried", replica: "q", ticket: "t", outcome: { kind: "answer", response: { jsonrpc: "2.0", id: null, error: { code: -32600, message: "superseded" } } } },
      { type: "retried", replica: "q", ticket: "t", outcome: { kind: "inputRequired", inputRequests: { k: { method: "roots/list" } }, requestState: "gwp1.x.y" } },
    ];
    for (const event of events) expect(parseChannelEvent(JSON.stringify(event)), event.type).to.deep.equal(event);
  });

  it("drops what is not one of them: not JSON, an unknown type, a missing field, a message that is not JSON-RPC", () => {
    const refused = [
      "not json",
      JSON.stringify({ type: "reboot", session: "s" }),
      JSON.stringify({ type: "answer", session: "s" }),
      JSON.stringify({ type: "answer", session: "s", response: { jsonrpc: "2.0", id: 1, result: {}, error: { code: 1, message: "both" } } }),
      JSON.stringify({ type: "deliver", session: "s", message: { jsonrpc: "1.0", method: "x" } }),
      JSON.stringify({ type: "retry", replica: "r", from: "q", ticket: "t", requestState: "s", origin: { caller: "" }, inputResponses: {} }),
      JSON.stringify({ type: "retry", replica: "r", from: "q", ticket: "t", requestState: "s", origin: { caller: "", method: "m", name: "n" }, inputResponses: ["no"] }),
      JSON.stringify({ type: "retried", replica: "q", ticket: "t", outcome: { kind: "answer", response: { id: 1 } } }),
    ];
    for (const text of refused) expect(parseChannelEvent(text), text).to.equal(undefined);
  });
});
