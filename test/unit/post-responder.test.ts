// The answer to one POST, in process against a real node:http ServerResponse on loopback: plain
// JSON until something must reach the client before the response, then an SSE stream; batches in
// one array; abandoned requests; a client that goes away.
import { expect } from "chai";
import type { JsonRpcMessage } from "../../internal/mcp/jsonrpc.js";
import { PostResponder, type RequestChannel } from "../../internal/transport/post-responder.js";
import { sseMessages } from "../helpers/http.js";
import { rawRequest, serveLoopback, type RawAnswer } from "../helpers/loopback.js";

interface Accepts {
  sse: boolean;
  json: boolean;
}

const progress: JsonRpcMessage = { jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: 1, progress: 1 } };

/** Serves one POST whose `count` requests the script answers through their channels; returns what the client got. */
async function answer(accepts: Accepts, count: number, batch: boolean, script: (channels: RequestChannel[]) => void | Promise<void>): Promise<RawAnswer> {
  const server = await serveLoopback(async (req, res) => {
    req.resume();
    const responder = new PostResponder(res, accepts.sse, accepts.json, count, batch);
    await script(Array.from({ length: count }, () => responder.channel()));
  });
  try {
    return await rawRequest(`${server.url}/mcp`, { method: "POST", body: "{}" });
  } finally {
    await server.close();
  }
}

const both: Accepts = { sse: true, json: true };
const jsonOnly: Accepts = { sse: false, json: true };
const sseOnly: Accepts = { sse: true, json: false };

describe("unit: PostResponder", () => {
  it("one request answered at once: 200 JSON with its length", async () => {
    const got = await answer(both, 1, false, ([channel]) => channel?.respond({ jsonrpc: "2.0", id: 7, result: { ok: true } }));
    expect(got.status).to.equal(200);
    expect(got.headers["content-type"]).to.equal("application/json");
    expect(got.headers["content-length"]).to.equal(String(Buffer.byteLength(got.body)));
    expect(JSON.parse(got.body)).to.deep.equal({ jsonrpc: "2.0", id: 7, result: { ok: true } });
  });

  it("respondRaw wraps result JSON text as it is; a second answer on a channel is ignored", async () => {
    const got = await answer(both, 1, false, ([channel]) => {
      channel?.respondRaw("a", '{"tools":[]}');
      channel?.respond({ jsonrpc: "2.0", id: "a", error: { code: -1, message: "late" } });
    });
    expect(got.body).to.equal('{"jsonrpc":"2.0","id":"a","result":{"tools":[]}}');
  });

  it("a batch is one JSON array, in the order the answers came", async () => {
    const got = await answer(both, 3, true, ([first, second, third]) => {
      second?.respond({ jsonrpc: "2.0", id: 2, result: {} });
      third?.abandon();
      first?.respondRaw(1, "{}");
    });
    expect(got.headers["content-type"]).to.equal("application/json");
    expect(JSON.parse(got.body)).to.deep.equal([
      { jsonrpc: "2.0", id: 2, result: {} },
      { jsonrpc: "2.0", id: 1, result: {} },
    ]);
  });

  it("a related message switches to SSE: answers buffered so far go first, the stream ends after the last answer", async () => {
    let sent: boolean | undefined;
    const got = await answer(both, 2, true, ([first, second]) => {
      first?.respond({ jsonrpc: "2.0", id: 1, result: {} });
      sent = second?.send(progress);
      second?.respond({ jsonrpc: "2.0", id: 2, result: {} });
    });
    expect(sent).to.equal(true);
    expect(got.status).to.equal(200);
    expect(got.headers["content-type"]).to.equal("text/event-stream");
    expect(got.headers["content-length"]).to.equal(undefined);
    expect(sseMessages(got.body)).to.deep.equal([{ jsonrpc: "2.0", id: 1, result: {} }, progress, { jsonrpc: "2.0", id: 2, result: {} }]);
  });

  it("a client that accepts only JSON is not sent related messages: send() says so and the answer stays JSON", async () => {
    let sent: boolean | undefined;
    const got = await answer(jsonOnly, 1, false, ([channel]) => {
      sent = channel?.send(progress);
      channel?.respond({ jsonrpc: "2.0", id: 1, result: {} });
    });
    expect(sent).to.equal(false);
    expect(got.headers["content-type"]).to.equal("application/json");
    expect(JSON.parse(got.body)).to.deep.equal({ jsonrpc: "2.0", id: 1, result: {} });
  });

  it("a client that accepts only SSE gets a stream from the start", async () => {
    const got = await answer(sseOnly, 1, false, ([channel]) => channel?.respond({ jsonrpc: "2.0", id: 1, result: {} }));
    expect(got.headers["content-type"]).to.equal("text/event-stream");
    expect(sseMessages(got.body)).to.deep.equal([{ jsonrpc: "2.0", id: 1, result: {} }]);
  });

  it("every request abandoned: an empty stream for an SSE client, 202 with no body for a JSON-only one", async () => {
    const stream = await answer(both, 2, true, (channels) => channels.forEach((channel) => channel.abandon()));
    expect(stream.status).to.equal(200);
    expect(stream.headers["content-type"]).to.equal("text/event-stream");
    expect(stream.body).to.equal("");
    const accepted = await answer(jsonOnly, 1, false, ([channel]) => channel?.abandon());
    expect(accepted.status).to.equal(202);
    expect(accepted.body).to.equal("");
  });

  it("a client gone before the answer aborts the requests' signal; nothing more is sent", async () => {
    let told: (outcome: { sentAfter: boolean; respondedAfter: boolean }) => void = () => undefined;
    const aborted = new Promise<{ sentAfter: boolean; respondedAfter: boolean }>((resolve) => (told = resolve));
    const server = await serveLoopback((req, res) => {
      req.resume();
      const channel = new PostResponder(res, true, true, 1, false).channel();
      channel.signal.addEventListener("abort", () => {
        const sentAfter = channel.send(progress);
        channel.respond({ jsonrpc: "2.0", id: 1, result: {} });
        told({ sentAfter, respondedAfter: res.headersSent });
      });
      req.socket.destroy();
    });
    try {
      await rawRequest(`${server.url}/mcp`, { method: "POST", body: "{}" }).catch(() => undefined);
      expect(await aborted).to.deep.equal({ sentAfter: false, respondedAfter: false });
    } finally {
      await server.close();
    }
  });

  it("an answer complete before the client goes away does not abort the signal", async () => {
    let signal: AbortSignal | undefined;
    await answer(both, 1, false, ([channel]) => {
      signal = channel?.signal;
      channel?.respond({ jsonrpc: "2.0", id: 1, result: {} });
    });
    expect(signal?.aborted).to.equal(false);
  });
});
