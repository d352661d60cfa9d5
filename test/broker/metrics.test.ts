// The broker's /metrics, scraped from a real broker-router process: Node's process metrics (heap,
// resident memory, event-loop lag) are there, and every request the transport refuses moves
// mcp_gateway_requests_refused_total for its reason by exactly one, and no other reason.
import { request as httpRequest } from "node:http";
import { expect } from "chai";
import { REFUSAL_REASONS } from "../../internal/transport/refusals.js";
import { startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { initializeRequest, openRawSession, postMcp } from "../helpers/http.js";

const REFUSED = "mcp_gateway_requests_refused_total";
const ping = (id: string) => ({ jsonrpc: "2.0", id, method: "ping" });
/** So low that no bucket gets a token back while a test runs. */
const NO_REFILL = "0.01";

async function scrape(gateway: GatewayProcess): Promise<string> {
  const res = await fetch(`${gateway.baseUrl}/metrics`);
  expect(res.status).to.equal(200);
  return res.text();
}

/** The value of a sample without labels, or undefined when the metric is not exposed. */
function sample(text: string, name: string): number | undefined {
  const match = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return match ? Number(match[1]) : undefined;
}

/** mcp_gateway_requests_refused_total by reason. */
function refusedByReason(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const match of text.matchAll(new RegExp(`^${REFUSED}\\{reason="([^"]*)"\\} (\\S+)$`, "gm"))) counts.set(match[1] as string, Number(match[2]));
  return counts;
}

/** How far each reason's counter moved while action ran; reasons that did not move are left out. */
async function refusalsDuring(gateway: GatewayProcess, action: () => Promise<void>): Promise<Record<string, number>> {
  const before = refusedByReason(await scrape(gateway));
  await action();
  const after = refusedByReason(await scrape(gateway));
  const moved: Record<string, number> = {};
  for (const [reason, count] of after) {
    const delta = count - (before.get(reason) ?? 0);
    if (delta !== 0) moved[reason] = delta;
  }
  return moved;
}

/** A POST of raw text to /mcp; the status it got. */
async function postText(gateway: GatewayProcess, body: string, headers: Record<string, string> = {}): Promise<number> {
  return (await postMcp(gateway.mcpUrl, body, headers)).status;
}

/** A POST whose body is sent chunked, without Content-Length, so the limit can only be found while reading. */
function postChunked(gateway: GatewayProcess, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(gateway.mcpUrl, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "transfer-encoding": "chunked" },
    });
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.write(body);
    req.end();
  });
}

/** A bodiless request with headers fetch() would not send as given (Host); the status it got. */
function statusWith(gateway: GatewayProcess, method: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(gateway.mcpUrl, { method, headers });
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("metrics: /metrics of the broker-router", function () {
  this.timeout(60_000);
  /** Session rate limit and a small body limit. */
  let gateway: GatewayProcess;
  /** Client rate limit. */
  let perClient: GatewayProcess;
  /** One stream per session. */
  let oneStream: GatewayProcess;
  const streams: AbortController[] = [];

  before(async () => {
    [gateway, perClient, oneStream] = await Promise.all([
      startGateway("servers: []\n", ["--session-rate-limit", NO_REFILL, "--session-rate-burst", "5", "--max-body-bytes", "2048"]),
      startGateway("servers: []\n", ["--client-rate-limit", NO_REFILL, "--client-rate-burst", "4"]),
      startGateway("servers: []\n", ["--max-streams-per-session", "1"]),
    ]);
  });
  after(async () => {
    for (const stream of streams) stream.abort();
    await Promise.all([gateway, perClient, oneStream].map((g) => g?.stop()));
  });

  describe("Node process metrics", () => {
    it("exposes heap, resident memory, CPU and event-loop lag of the gateway process", async () => {
      const text = await scrape(gateway);
      for (const name of ["nodejs_heap_size_used_bytes", "nodejs_heap_size_total_bytes", "process_resident_memory_bytes", "process_cpu_seconds_total", "nodejs_eventloop_lag_p99_seconds"]) {
        expect(sample(text, name), name).to.be.a("number");
      }
      const heapUsed = sample(text, "nodejs_heap_size_used_bytes") as number;
      const rss = sample(text, "process_resident_memory_bytes") as number;
      // A Node process has megabytes of heap, and its RSS holds the heap.
      expect(heapUsed).to.be.above(1_000_000);
      expect(rss).to.be.above(heapUsed);
      expect(text).to.match(/^nodejs_heap_space_size_used_bytes\{space="old"\} \d+/m);
    });

    it("still serves the gateway's own metrics on the same registry", async () => {
      const text = await scrape(gateway);
      expect(sample(text, "mcp_gateway_sessions")).to.be.a("number");
      expect(text).to.include(`# TYPE ${REFUSED} counter`);
    });
  });

  describe(REFUSED, () => {
    it("exposes exactly the fixed set of reasons, each at 0, before anything was refused", async () => {
      const counts = refusedByReason(await scrape(oneStream));
      expect([...counts.keys()].sort()).to.deep.equal([...REFUSAL_REASONS].sort());
      expect([...counts.values()].every((count) => count === 0), JSON.stringify([...counts])).to.equal(true);
    });

    it("session_rate_limit: each request of a session over its rate, POST, GET or DELETE, counts once", async () => {
      // notifications/initialized takes the first of the session's 5 tokens.
      const { sessionId } = await openRawSession(gateway.mcpUrl);
      const moved = await refusalsDuring(gateway, async () => {
        for (const id of ["ok-1", "ok-2", "ok-3", "ok-4"]) expect(await postText(gateway, JSON.stringify(ping(id)), { "mcp-session-id": sessionId }), id).to.equal(200);
        expect(await postText(gateway, JSON.stringify(ping("over")), { "mcp-session-id": sessionId })).to.equal(429);
        expect((await fetch(gateway.mcpUrl, { headers: { accept: "text/event-stream", "mcp-session-id": sessionId } })).status).to.equal(429);
        expect((await fetch(gateway.mcpUrl, { method: "DELETE", headers: { "mcp-session-id": sessionId } })).status).to.equal(429);
      });
      expect(moved).to.deep.equal({ session_rate_limit: 3 });
    });

    it("client_rate_limit: requests of a client over its rate count once each, initialize included", async () => {
      const moved = await refusalsDuring(perClient, async () => {
        // initialize and notifications/initialized take two of the client's 4 tokens.
        const { sessionId } = await openRawSession(perClient.mcpUrl);
        for (const id of ["ok-1", "ok-2"]) expect(await postText(perClient, JSON.stringify(ping(id)), { "mcp-session-id": sessionId }), id).to.equal(200);
        expect(await postText(perClient, JSON.stringify(ping("over")), { "mcp-session-id": sessionId })).to.equal(429);
        expect(await postText(perClient, JSON.stringify(initializeRequest("again")))).to.equal(429);
        expect((await fetch(perClient.mcpUrl, { headers: { accept: "text/event-stream", "mcp-session-id": sessionId } })).status).to.equal(429);
      });
      expect(moved).to.deep.equal({ client_rate_limit: 3 });
    });

    it("session_streams_limit: a request beyond the session's open streams counts once each", async () => {
      const { sessionId } = await openRawSession(oneStream.mcpUrl);
      const moved = await refusalsDuring(oneStream, async () => {
        const controller = new AbortController();
        streams.push(controller);
        const stream = await fetch(oneStream.mcpUrl, { headers: { accept: "text/event-stream", "mcp-session-id": sessionId }, signal: controller.signal });
        expect(stream.status).to.equal(200);
        expect(await postText(oneStream, JSON.stringify(ping("over-1")), { "mcp-session-id": sessionId })).to.equal(429);
        expect(await postText(oneStream, JSON.stringify(ping("over-2")), { "mcp-session-id": sessionId })).to.equal(429);
        controller.abort();
      });
      expect(moved).to.deep.equal({ session_streams_limit: 2 });
    });

    it("body_too_large: a body over --max-body-bytes counts once, whether declared or found while reading", async () => {
      const big = JSON.stringify({ ...initializeRequest("big"), padding: "x".repeat(4096) });
      const moved = await refusalsDuring(gateway, async () => {
        expect(await postText(gateway, big), "Content-Length over the limit").to.equal(413);
        expect(await postChunked(gateway, big), "chunked body over the limit").to.equal(413);
      });
      expect(moved).to.deep.equal({ body_too_large: 2 });
    });

    it("unknown_session: a session id the gateway never issued counts once per request, POST, GET or DELETE", async () => {
      const forged = { "mcp-session-id": "not-a-session" };
      const moved = await refusalsDuring(gateway, async () => {
        expect(await postText(gateway, JSON.stringify(ping("lost")), forged)).to.equal(404);
        expect((await fetch(gateway.mcpUrl, { headers: { accept: "text/event-stream", ...forged } })).status).to.equal(404);
        expect((await fetch(gateway.mcpUrl, { method: "DELETE", headers: forged })).status).to.equal(404);
      });
      expect(moved).to.deep.equal({ unknown_session: 3 });
    });

    it("invalid_json and invalid_jsonrpc: a body that is not JSON and one that is not JSON-RPC are told apart", async () => {
      const moved = await refusalsDuring(gateway, async () => {
        expect(await postText(gateway, "{not json")).to.equal(400);
        expect(await postText(gateway, '{"jsonrpc":"2.0","id":1,"method":')).to.equal(400);
        expect(await postText(gateway, "[]"), "an empty batch").to.equal(400);
      });
      expect(moved).to.deep.equal({ invalid_json: 2, invalid_jsonrpc: 1 });
    });

    it("answered requests do not count, refusals from the HTTP checks do", async () => {
      const moved = await refusalsDuring(oneStream, async () => {
        const { sessionId } = await openRawSession(oneStream.mcpUrl);
        expect(await postText(oneStream, JSON.stringify(ping("fine")), { "mcp-session-id": sessionId })).to.equal(200);
        expect((await fetch(oneStream.mcpUrl, { method: "DELETE", headers: { "mcp-session-id": sessionId } })).status).to.equal(200);
        expect((await fetch(oneStream.mcpUrl, { method: "PUT" })).status).to.equal(405);
        expect(await postText(oneStream, JSON.stringify(ping("no-session")))).to.equal(400);
        expect(await postText(oneStream, JSON.stringify(initializeRequest()), { "content-type": "text/plain" })).to.equal(415);
        expect(await statusWith(oneStream, "GET", { accept: "text/event-stream", host: "evil.example" }), "foreign Host").to.equal(403);
        expect(await statusWith(oneStream, "DELETE", { origin: "http://evil.example" }), "foreign Origin").to.equal(403);
      });
      expect(moved).to.deep.equal({ method_not_allowed: 1, missing_session_id: 1, unsupported_media_type: 1, host_not_allowed: 2 });
    });
  });
});
