// The refusal table in process: every reason the Streamable HTTP transport can refuse with, provoked
// on a real loopback server, answers with exactly the status, JSON-RPC code and connection handling
// its row of internal/transport/refusals.ts gives, and is reported to the refusal observer once.
import { expect } from "chai";
import { RequestLimits, type LimitSettings } from "../../internal/limits/request-limits.js";
import { SessionQuotaError } from "../../internal/limits/session-quota.js";
import type { JsonRpcRequest } from "../../internal/mcp/jsonrpc.js";
import { HostGuard } from "../../internal/transport/http-checks.js";
import { REFUSAL_REASONS, REFUSALS, refusalTable, type RefusalReason } from "../../internal/transport/refusals.js";
import { streamableHttpHandler, type McpProtocolHandler, type StreamableHttpOptions, type TransportSession } from "../../internal/transport/streamable-http.js";
import { initializeRequest } from "../helpers/http.js";
import { rawRequest, serveLoopback, type LoopbackServer, type RawAnswer } from "../helpers/loopback.js";

const SESSION = "live";
const STORE_DOWN = "store-down";
const PER_REQUEST_VERSION = "2026-07-28";

/** Told when a "hold" request reached the protocol side. */
let onHold: () => void = () => undefined;

/** The protocol side, as small as the transport needs: one live session, a store that fails for one id. */
const protocol: McpProtocolHandler<TransportSession> = {
  initialize: async (request: JsonRpcRequest) => {
    if ((request.params?.clientInfo as { name?: string } | undefined)?.name === "over-quota") throw new SessionQuotaError("too many sessions for this client");
    return { session: { id: SESSION, protocolVersion: "2025-06-18" }, response: { jsonrpc: "2.0", id: request.id, result: {} } };
  },
  findSession: (id: string) => {
    if (id === STORE_DOWN) return Promise.reject(new Error("connection refused"));
    return id === SESSION ? { id, protocolVersion: "2025-06-18" } : undefined;
  },
  onRequest: (_session, request, channel) => {
    // "hold" stays unanswered, keeping its stream slot.
    if (request.method === "hold") onHold();
    else channel.respond({ jsonrpc: "2.0", id: request.id, result: {} });
  },
  onNotification: () => undefined,
  onResponse: () => undefined,
  openStream: () => undefined,
  terminate: () => Promise.reject(new Error("terminate failed")),
};

interface Transport extends LoopbackServer {
  refused: RefusalReason[];
}

async function transport(limits: Partial<LimitSettings> = {}, options: Partial<StreamableHttpOptions> = {}): Promise<Transport> {
  const refused: RefusalReason[] = [];
  const handler = streamableHttpHandler(protocol, {
    maxBodyBytes: 1_000,
    maxBatchSize: 2,
    hostGuard: new HostGuard({ allowedHosts: ["127.0.0.1"], allowedOrigins: [] }),
    keepAliveMs: 0,
    limits: new RequestLimits({ maxStreamsPerSession: 0, ...limits }),
    refusals: { refused: (reason) => refused.push(reason) },
    perRequest: { onRequest: (request, _meta, channel) => channel.respond({ jsonrpc: "2.0", id: request.id, result: {} }) },
    ...options,
  });
  const server = await serveLoopback(handler);
  return { ...server, url: `${server.url}/mcp`, refused };
}

const JSON_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };
const post = (t: Transport, body: unknown, headers: Record<string, string> = {}) =>
  rawRequest(t.url, { method: "POST", headers: { ...JSON_HEADERS, ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });
const ping = (id: number | string = 1) => ({ jsonrpc: "2.0", id, method: "ping" });
const inSession = { "mcp-session-id": SESSION };
const perRequestPing = (protocolVersion: string, meta: Record<string, unknown> = { "io.modelcontextprotocol/clientCapabilities": {} }) => ({
  jsonrpc: "2.0",
  id: 1,
  method: "ping",
  params: { _meta: { "io.modelcontextprotocol/protocolVersion": protocolVersion, ...meta } },
});

/** The answer is the table's row for `reason`, and the observer heard of it (and of nothing else since `before`). */
function expectRefusal(t: Transport, answer: RawAnswer, reason: RefusalReason, before: number): void {
  const spec = REFUSALS[reason];
  expect({ reason, status: answer.status }).to.deep.equal({ reason, status: spec.status });
  expect(answer.headers["content-type"], reason).to.match(/^application\/json/);
  expect((JSON.parse(answer.body) as { error: { code: number } }).error.code, `${reason}: ${answer.body}`).to.equal(spec.code);
  expect(answer.headers.connection === "close", `${reason}: connection closed`).to.equal("closeConnection" in spec && spec.closeConnection === true);
  expect(t.refused.slice(before), reason).to.deep.equal([reason]);
}

describe("unit: the refusal table, through the transport", () => {
  const provoked = new Set<RefusalReason>();
  let t: Transport;
  before(async () => {
    t = await transport();
  });
  after(() => t.close());

  /** Sends what `provoke` sends and checks the refusal. */
  async function refuses(reason: RefusalReason, provoke: (t: Transport) => Promise<RawAnswer>, on: Transport = t): Promise<void> {
    const before = on.refused.length;
    expectRefusal(on, await provoke(on), reason, before);
    provoked.add(reason);
  }

  it("header and body checks, before any session is looked at", async () => {
    await refuses("host_not_allowed", (t) => post(t, ping(), { host: "evil.example" }));
    await refuses("method_not_allowed", (t) => rawRequest(t.url, { method: "PUT" }));
    await refuses("not_acceptable", (t) => post(t, ping(), { accept: "text/html" }));
    await refuses("not_acceptable", (t) => rawRequest(t.url, { headers: { accept: "application/json", ...inSession } }));
    await refuses("unsupported_media_type", (t) => post(t, ping(), { "content-type": "text/plain" }));
    await refuses("body_too_large", (t) => post(t, { ...ping(), padding: "x".repeat(2_000) }));
    await refuses("invalid_json", (t) => post(t, "{"));
    await refuses("invalid_jsonrpc", (t) => post(t, "[]"));
    await refuses("invalid_jsonrpc", (t) => post(t, { jsonrpc: "2.0", id: 1 }));
    await refuses("invalid_jsonrpc", (t) => post(t, [initializeRequest(1, "2025-03-26")]));
    await refuses("batch_too_large", (t) => post(t, [ping(1), ping(2), ping(3)]));
  });

  it("session checks", async () => {
    await refuses("missing_session_id", (t) => post(t, ping()));
    await refuses("unknown_session", (t) => post(t, ping(), { "mcp-session-id": "forged" }));
    await refuses("unsupported_protocol_version", (t) => post(t, ping(), { ...inSession, "mcp-protocol-version": "1999-01-01" }));
    await refuses("session_store_unavailable", (t) => post(t, ping(), { "mcp-session-id": STORE_DOWN }));
    await refuses("internal_error", (t) => rawRequest(t.url, { method: "DELETE", headers: inSession }));
    await refuses("client_sessions_limit", (t) => post(t, { ...initializeRequest(), params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "over-quota", version: "1" } } }));
  });

  it("limits: the second request over a burst of one is refused", async () => {
    const slow = { perSecond: 0.001, burst: 1 };
    for (const [reason, limits, send] of [
      ["client_rate_limit", { client: slow }, (t: Transport) => post(t, ping(), inSession)],
      ["initialize_rate_limit", { initialize: slow }, (t: Transport) => post(t, initializeRequest())],
      ["session_rate_limit", { session: slow }, (t: Transport) => post(t, ping(), inSession)],
    ] as const) {
      const limited = await transport(limits);
      try {
        expect((await send(limited)).status, `${reason}: the first is served`).to.equal(200);
        await refuses(reason, send, limited);
      } finally {
        await limited.close();
      }
    }
    // A request left unanswered holds the session's one stream slot until the server closes.
    const streams = await transport({ maxStreamsPerSession: 1 });
    const holding = new Promise<void>((resolve) => (onHold = resolve));
    const held = post(streams, { jsonrpc: "2.0", id: "held", method: "hold" }, inSession).catch(() => undefined);
    await holding;
    try {
      await refuses("session_streams_limit", (t) => post(t, ping(), inSession), streams);
    } finally {
      await streams.close();
      await held;
    }
  });

  it("the per-request era's checks", async () => {
    const version = { "mcp-protocol-version": PER_REQUEST_VERSION, "mcp-method": "ping" };
    await refuses("header_mismatch", (t) => post(t, perRequestPing(PER_REQUEST_VERSION), { "mcp-protocol-version": PER_REQUEST_VERSION, "mcp-method": "tools/list" }));
    await refuses("invalid_request_meta", (t) => post(t, perRequestPing(PER_REQUEST_VERSION, {}), version));
    await refuses("unsupported_per_request_version", (t) => post(t, perRequestPing("2099-01-01"), { "mcp-protocol-version": "2099-01-01", "mcp-method": "ping" }));
  });

  it("every reason of the table was provoked above", () => {
    expect([...provoked].sort()).to.deep.equal([...REFUSAL_REASONS].sort());
  });

  it("the table: 4xx and 5xx statuses, only a body left unread closes the connection, the docs table has a row per reason", () => {
    for (const reason of REFUSAL_REASONS) {
      const spec = REFUSALS[reason];
      expect(spec.status, reason).to.be.within(400, 599);
      expect(Number.isInteger(spec.code) && spec.code < 0, reason).to.equal(true);
      if (spec.status === 429) expect(spec.code, `${reason}: limits are transport errors`).to.equal(REFUSALS.client_rate_limit.code);
    }
    expect(REFUSAL_REASONS.filter((reason) => "closeConnection" in REFUSALS[reason])).to.deep.equal(["body_too_large"]);
    const rows = refusalTable().split("\n");
    expect(rows.slice(0, 2)).to.deep.equal(["| `reason` | HTTP | JSON-RPC | when |", "|---|---|---|---|"]);
    expect(rows.slice(2).map((row) => /^\| `(\w+)` \| (\d+) \| `(-?\d+)` \|/.exec(row)?.slice(1))).to.deep.equal(
      REFUSAL_REASONS.map((reason) => [reason, String(REFUSALS[reason].status), String(REFUSALS[reason].code)]),
    );
  });
});
