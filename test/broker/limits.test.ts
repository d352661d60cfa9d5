// Limits of the broker-router: request rates per session and per client and open streams per
// session (HTTP 429 with Retry-After and a JSON-RPC error), and the upstream connect, first-byte
// and total timeouts (a JSON-RPC error that names the timeout, in bounded time). Whoever is over
// a limit, or waits on a slow upstream, never holds anybody else up.
import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "chai";
import { Agent, request } from "undici";
import { RateLimiter } from "../../internal/limits/rate-limiter.js";
import { StreamLimiter } from "../../internal/limits/stream-limiter.js";
import { startRawUpstream, startUnacceptingListener, type RawUpstream, type UnacceptingListener } from "../fixtures/raw-upstream.js";
import { startUpstreamServer, type UpstreamServer } from "../fixtures/upstream-server.js";
import { eventually, startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { initializeRequest, JSON_AND_SSE, openRawSession, postMcp, type McpHttpResponse } from "../helpers/http.js";
import { fetchStatus, registryYaml, serverReady, serverStatus, type TestServer } from "../helpers/registry.js";
import { newTokenIssuer, type TokenIssuer } from "../helpers/token-issuer.js";

interface JsonRpcError {
  jsonrpc: "2.0";
  id: string | number | null;
  error: { code: number; message: string };
}

const ping = (id: string) => ({ jsonrpc: "2.0", id, method: "ping" });
const INITIALIZED = { jsonrpc: "2.0", method: "notifications/initialized" };

/** A 429 with a Retry-After header and a JSON-RPC error body carrying the refused request's id. */
function expectTooManyRequests(answer: { status: number; retryAfter: string | null; body: unknown }, id: string | null, message: RegExp, retryAfter?: string): void {
  expect(answer.status, JSON.stringify(answer.body)).to.equal(429);
  if (retryAfter) expect(answer.retryAfter).to.equal(retryAfter);
  else expect(Number(answer.retryAfter)).to.be.at.least(1);
  const body = answer.body as JsonRpcError;
  expect(body).to.deep.include({ jsonrpc: "2.0", id });
  expect(body.error.code).to.equal(-32000);
  expect(body.error.message).to.match(message);
}

/** What the raw helpers answer, reduced to what limits are about. */
function answerOf(res: McpHttpResponse) {
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body: res.messages[0] };
}

/**
 * Raw HTTP to /mcp from one loopback address with fixed headers (a bearer token): one client as the
 * gateway tells clients apart. Every request, notifications included, carries the headers.
 */
class RawClient {
  private readonly agent: Agent;

  constructor(
    private readonly mcpUrl: string,
    localAddress: string,
    private readonly headers: Record<string, string> = {},
  ) {
    this.agent = new Agent({ localAddress });
  }

  async send(method: "POST" | "GET" | "DELETE", body?: unknown, sessionId?: string) {
    const headers: Record<string, string> = { accept: method === "GET" ? "text/event-stream" : JSON_AND_SSE, ...this.headers };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (sessionId) headers["mcp-session-id"] = sessionId;
    const res = await request(this.mcpUrl, { method, dispatcher: this.agent, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.body.text();
    const header = (name: string) => (typeof res.headers[name] === "string" ? (res.headers[name] as string) : null);
    return { status: res.statusCode, retryAfter: header("retry-after"), sessionId: header("mcp-session-id"), body: text.startsWith("{") ? (JSON.parse(text) as unknown) : text };
  }

  /** initialize and notifications/initialized: two requests. */
  async openSession(): Promise<string> {
    const answer = await this.send("POST", initializeRequest("init"));
    if (answer.status !== 200 || !answer.sessionId) throw new Error(`initialize failed: ${answer.status} ${JSON.stringify(answer.body)}`);
    expect((await this.send("POST", INITIALIZED, answer.sessionId)).status).to.equal(202);
    return answer.sessionId;
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

describe("limits: request rates, streams per session, upstream timeouts", function () {
  this.timeout(60_000);
  const gateways: GatewayProcess[] = [];
  const clients: RawClient[] = [];

  async function gatewayWith(servers: TestServer[], flags: string[]): Promise<GatewayProcess> {
    const gateway = await startGateway(registryYaml(servers), flags);
    gateways.push(gateway);
    for (const server of servers) await serverReady(gateway.baseUrl, server.name);
    return gateway;
  }

  function clientFrom(gateway: GatewayProcess, localAddress: string, headers: Record<string, string> = {}): RawClient {
    const client = new RawClient(gateway.mcpUrl, localAddress, headers);
    clients.push(client);
    return client;
  }

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await Promise.all(gateways.map((gateway) => gateway.stop()));
  });

  describe("the token bucket", () => {
    it("allows a burst at once, then says how long until the next token, and refills at the rate", async () => {
      const limiter = new RateLimiter({ perSecond: 2, burst: 3 });
      expect([limiter.take("a"), limiter.take("a"), limiter.take("a")]).to.deep.equal([0, 0, 0]);
      const wait = limiter.take("a");
      // Half a second per token at 2/s, less what trickled in since the burst.
      expect(wait).to.be.within(0.4, 0.5);
      expect(limiter.take("b"), "another key has its own bucket").to.equal(0);
      await sleep(wait * 1000 + 20);
      expect(limiter.take("a")).to.equal(0);
      expect(limiter.take("a")).to.be.greaterThan(0);
    });

    it("drops buckets idle long enough to be full again, and never holds more than maxKeys", async () => {
      const fast = new RateLimiter({ perSecond: 1000, burst: 1 }, 10);
      for (let i = 0; i < 20; i++) fast.take(`client-${i}`);
      expect(fast.size).to.be.at.most(10);
      await sleep(20);
      for (let i = 0; i < 10; i++) fast.take("busy");
      expect(fast.size, "only the bucket in use is left").to.equal(1);

      const slow = new RateLimiter({ perSecond: 1, burst: 5 }, 10);
      for (let i = 0; i < 50; i++) slow.take(`client-${i}`);
      expect(slow.size).to.equal(10);
    });

    it("refuses a rate or burst that would never let a request through", () => {
      expect(() => new RateLimiter({ perSecond: 0, burst: 5 })).to.throw(/invalid rate limit/);
      expect(() => new RateLimiter({ perSecond: 5, burst: 0 })).to.throw(/invalid rate limit/);
    });
  });

  describe("the stream counter", () => {
    it("counts per key up to the limit, and a release (even a repeated one) frees exactly one place", () => {
      const streams = new StreamLimiter(2);
      const first = streams.acquire("s1");
      const second = streams.acquire("s1");
      expect(streams.acquire("s1")).to.equal(undefined);
      expect(streams.acquire("s2"), "another key has its own count").to.be.a("function");
      first?.();
      first?.();
      expect(streams.count("s1")).to.equal(1);
      expect(streams.acquire("s1")).to.be.a("function");
      expect(streams.acquire("s1")).to.equal(undefined);
      second?.();
      expect(streams.count("s1")).to.equal(1);
    });
  });

  describe("per-session rate limit", () => {
    let gateway: GatewayProcess;
    before(async () => {
      gateway = await gatewayWith([], ["--session-rate-limit", "0.5", "--session-rate-burst", "4"]);
    });

    it("answers a session over its rate with 429, a Retry-After from its bucket and the request's id; other sessions go on", async () => {
      // notifications/initialized takes the first of the 4 tokens.
      const { sessionId: busy } = await openRawSession(gateway.mcpUrl);
      for (const id of ["p1", "p2", "p3"]) {
        expect(answerOf(await postMcp(gateway.mcpUrl, ping(id), { "mcp-session-id": busy }))).to.deep.include({ status: 200, body: { jsonrpc: "2.0", id, result: {} } });
      }
      // The bucket is empty: a token comes every 2 s.
      const refused = answerOf(await postMcp(gateway.mcpUrl, ping("p4"), { "mcp-session-id": busy }));
      expectTooManyRequests(refused, "p4", /^Too Many Requests: session rate limit of 0\.5 requests per second \(burst 4\) exceeded$/, "2");

      const { sessionId: calm } = await openRawSession(gateway.mcpUrl);
      expect((await postMcp(gateway.mcpUrl, ping("calm"), { "mcp-session-id": calm })).status).to.equal(200);

      // Every kind of request of the session counts: notifications, GET and DELETE.
      expectTooManyRequests(answerOf(await postMcp(gateway.mcpUrl, INITIALIZED, { "mcp-session-id": busy })), null, /session rate limit/);
      const get = await fetch(gateway.mcpUrl, { headers: { accept: "text/event-stream", "mcp-session-id": busy } });
      expectTooManyRequests({ status: get.status, retryAfter: get.headers.get("retry-after"), body: await get.json() }, null, /session rate limit/);
      const del = await fetch(gateway.mcpUrl, { method: "DELETE", headers: { "mcp-session-id": busy } });
      expectTooManyRequests({ status: del.status, retryAfter: del.headers.get("retry-after"), body: await del.json() }, null, /session rate limit/);

      await sleep(Number(refused.retryAfter) * 1000);
      expect(answerOf(await postMcp(gateway.mcpUrl, ping("p5"), { "mcp-session-id": busy }))).to.deep.include({ status: 200 });
    });
  });

  describe("per-client rate limit by address (no client authentication)", () => {
    let gateway: GatewayProcess;
    before(async () => {
      gateway = await gatewayWith([], ["--client-rate-limit", "0.5", "--client-rate-burst", "3"]);
    });

    it("answers a client over its rate with 429, initialize included, while another address goes on", async () => {
      const flooder = clientFrom(gateway, "127.0.0.1");
      const session = await flooder.openSession();
      expect((await flooder.send("POST", ping("c1"), session)).status).to.equal(200);
      expectTooManyRequests(await flooder.send("POST", ping("c2"), session), "c2", /^Too Many Requests: client rate limit of 0\.5 requests per second \(burst 3\) exceeded$/, "2");
      // New sessions are requests too: a client cannot escape its limit, or flood the gateway, with them.
      const init = await flooder.send("POST", initializeRequest("init-2"));
      expectTooManyRequests(init, "init-2", /client rate limit/);
      expect(init.sessionId).to.equal(null);
      expectTooManyRequests(await flooder.send("GET", undefined, session), null, /client rate limit/);

      const neighbour = clientFrom(gateway, "127.0.0.2");
      const own = await neighbour.openSession();
      expect(await neighbour.send("POST", ping("n1"), own)).to.deep.include({ status: 200, body: { jsonrpc: "2.0", id: "n1", result: {} } });
    });
  });

  describe("per-client rate limit by token subject (client authentication on)", () => {
    let gateway: GatewayProcess;
    let issuer: TokenIssuer;
    before(async () => {
      issuer = await newTokenIssuer();
      gateway = await gatewayWith([], [...issuer.flags, "--client-rate-limit", "0.5", "--client-rate-burst", "2"]);
    });

    it("limits each subject on its own, whatever token or address it uses; tokens without a subject are refused", async () => {
      const bearer = async (claims: Record<string, string>) => ({ authorization: `Bearer ${await issuer.token(claims)}` });
      const alice = clientFrom(gateway, "127.0.0.1", await bearer({ sub: "alice" }));
      const session = await alice.openSession();
      expectTooManyRequests(await alice.send("POST", ping("a1"), session), "a1", /client rate limit of 0\.5 requests per second \(burst 2\)/, "2");

      const aliceElsewhere = clientFrom(gateway, "127.0.0.3", await bearer({ sub: "alice", jti: "second-token" }));
      expectTooManyRequests(await aliceElsewhere.send("POST", initializeRequest("a2")), "a2", /client rate limit/);

      const bob = clientFrom(gateway, "127.0.0.1", await bearer({ sub: "bob" }));
      await bob.openSession();
      // Sessions belong to a subject: a token without one is refused outright.
      expect((await clientFrom(gateway, "127.0.0.4", await bearer({})).send("POST", initializeRequest())).status).to.equal(401);
      // A request that fails authentication is refused before it counts against anyone.
      expect((await clientFrom(gateway, "127.0.0.1").send("POST", initializeRequest())).status).to.equal(401);
    });
  });

  describe("streams per session", () => {
    let gateway: GatewayProcess;
    let stall: RawUpstream;
    const streams: AbortController[] = [];

    before(async () => {
      stall = await startRawUpstream("hang-calls");
      gateway = await gatewayWith([{ name: "limits/stall", url: stall.url, prefix: "stall_" }], ["--max-streams-per-session", "2"]);
    });
    after(async () => {
      for (const stream of streams) stream.abort();
      await stall?.stop();
    });

    /** Opens a GET stream and leaves it open until aborted. */
    async function openStream(sessionId: string): Promise<{ status: number; retryAfter: string | null; abort: () => void; body: () => Promise<unknown> }> {
      const controller = new AbortController();
      streams.push(controller);
      const res = await fetch(gateway.mcpUrl, { headers: { accept: "text/event-stream", "mcp-session-id": sessionId }, signal: controller.signal });
      return { status: res.status, retryAfter: res.headers.get("retry-after"), abort: () => controller.abort(), body: () => res.json() };
    }

    const pingStatus = async (sessionId: string, id: string) => (await postMcp(gateway.mcpUrl, ping(id), { "mcp-session-id": sessionId })).status;

    it("refuses a stream or request beyond the limit with 429 and Retry-After: 1, and frees the place when the client drops a stream", async () => {
      const { sessionId } = await openRawSession(gateway.mcpUrl);
      const first = await openStream(sessionId);
      const second = await openStream(sessionId);
      expect([first.status, second.status]).to.deep.equal([200, 200]);

      expectTooManyRequests(answerOf(await postMcp(gateway.mcpUrl, ping("over"), { "mcp-session-id": sessionId })), "over", /^Too Many Requests: the session already has 2 streams or requests open$/, "1");
      const third = await openStream(sessionId);
      expectTooManyRequests({ status: third.status, retryAfter: third.retryAfter, body: await third.body() }, null, /2 streams or requests open/, "1");

      const { sessionId: other } = await openRawSession(gateway.mcpUrl);
      expect(await pingStatus(other, "other")).to.equal(200);

      first.abort();
      await eventually(async () => (await pingStatus(sessionId, "freed")) === 200, 5_000, "the dropped stream's place");
    });

    it("counts a POST until its answer is out, and frees its place when the client hangs up on it", async () => {
      const { sessionId } = await openRawSession(gateway.mcpUrl);
      const listening = await openStream(sessionId);
      expect(listening.status).to.equal(200);
      // Answered POSTs give their place back: one place is enough for any number of them in a row.
      for (let i = 0; i < 5; i++) expect(await pingStatus(sessionId, `row-${i}`)).to.equal(200);

      // The upstream never answers this call: only the client hanging up ends it.
      const caller = new AbortController();
      const call = fetch(gateway.mcpUrl, {
        method: "POST",
        headers: { "content-type": "application/json", accept: JSON_AND_SSE, "mcp-session-id": sessionId },
        body: JSON.stringify({ jsonrpc: "2.0", id: "hung-up", method: "tools/call", params: { name: "stall_stall", arguments: {} } }),
        signal: caller.signal,
      }).catch(() => undefined);
      await eventually(async () => (await pingStatus(sessionId, "full")) === 429, 5_000, "the session at its limit");

      caller.abort();
      await call;
      await eventually(async () => (await pingStatus(sessionId, "after-hang-up")) === 200, 5_000, "the hung-up call's place");
    });
  });

  describe("upstream timeouts", () => {
    const CONNECT_MS = 1_000;
    const FIRST_BYTE_MS = 2_000;
    const TOTAL_MS = 4_000;
    let gateway: GatewayProcess;
    let ok: UpstreamServer;
    let silent: RawUpstream;
    let trickle: RawUpstream;
    let gone: RawUpstream;
    let unaccepting: UnacceptingListener | undefined;

    before(async () => {
      ok = await startUpstreamServer({ name: "ok" });
      silent = await startRawUpstream("hang-calls");
      trickle = await startRawUpstream("trickle-calls");
      gone = await startRawUpstream("hang-calls");
      gateway = await gatewayWith(
        [
          { name: "limits/ok", url: ok.url, prefix: "ok_" },
          { name: "limits/silent", url: silent.url, prefix: "silent_" },
          { name: "limits/trickle", url: trickle.url, prefix: "trickle_" },
          { name: "limits/gone", url: gone.url, prefix: "gone_" },
        ],
        [
          "--upstream-connect-timeout-seconds", String(CONNECT_MS / 1000),
          "--upstream-first-byte-timeout-seconds", String(FIRST_BYTE_MS / 1000),
          "--upstream-timeout-seconds", String(TOTAL_MS / 1000),
          // Only a failed call may make discovery look at a server again.
          "--refresh-interval-seconds", "300",
        ],
      );
    });
    after(async () => {
      await Promise.all([ok?.stop(), silent?.stop(), trickle?.stop(), gone?.stop(), unaccepting?.stop()]);
    });

    /**
     * Calls a tool in a session of its own and, while it waits, checks that a healthy server still
     * answers at once in another session. Resolves with the call's answer and how long it took.
     */
    async function callWhileOthersWork(tool: string): Promise<{ answer: JsonRpcError; seconds: number }> {
      const { sessionId } = await openRawSession(gateway.mcpUrl);
      const { sessionId: bystander } = await openRawSession(gateway.mcpUrl);
      const started = performance.now();
      const slow = postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: tool, method: "tools/call", params: { name: tool, arguments: {} } }, { "mcp-session-id": sessionId });
      const echo = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: "echo", method: "tools/call", params: { name: "ok_echo", arguments: { text: "meanwhile" } } }, { "mcp-session-id": bystander });
      expect(echo.messages).to.deep.equal([{ jsonrpc: "2.0", id: "echo", result: { content: [{ type: "text", text: "meanwhile" }] } }]);
      expect((performance.now() - started) / 1000, "the healthy server answered while the slow call waited").to.be.below(1);
      const res = await slow;
      return { answer: res.messages.at(-1) as JsonRpcError, seconds: (performance.now() - started) / 1000 };
    }

    it("first-byte timeout: an upstream that sends no response headers gets -32011 naming the first-byte timeout", async () => {
      const { answer, seconds } = await callWhileOthersWork("silent_stall");
      expect(answer).to.deep.equal({
        jsonrpc: "2.0",
        id: "silent_stall",
        error: { code: -32011, message: `upstream limits/silent: no response headers within ${FIRST_BYTE_MS} ms (first-byte timeout)` },
      });
      // undici's timers tick coarsely; the total timeout must not be what fired.
      expect(seconds).to.be.within(FIRST_BYTE_MS / 1000, TOTAL_MS / 1000 - 0.5);
    });

    it("total timeout: an upstream that keeps sending but never answers gets -32011 after --upstream-timeout-seconds", async () => {
      const { answer, seconds } = await callWhileOthersWork("trickle_trickle");
      expect(answer).to.deep.equal({ jsonrpc: "2.0", id: "trickle_trickle", error: { code: -32011, message: `upstream limits/trickle: timed out after ${TOTAL_MS} ms` } });
      expect(seconds).to.be.within(TOTAL_MS / 1000, TOTAL_MS / 1000 + 1);
    });

    it("connect timeout: an upstream that stops accepting connections gets -32010 naming the connect timeout, and discovery notices", async () => {
      const port = gone.port;
      await gone.stop();
      unaccepting = await startUnacceptingListener(port);
      const { answer, seconds } = await callWhileOthersWork("gone_stall");
      expect(answer).to.deep.equal({
        jsonrpc: "2.0",
        id: "gone_stall",
        error: { code: -32010, message: `upstream limits/gone: no connection within ${CONNECT_MS} ms (connect timeout)` },
      });
      expect(seconds).to.be.within(CONNECT_MS / 1000, TOTAL_MS / 1000 - 0.5);
      const status = await eventually(async () => {
        const row = serverStatus(await fetchStatus(gateway.baseUrl), "limits/gone");
        return row && !row.ready ? row : undefined;
      }, 10_000, "limits/gone not ready");
      expect(status.message).to.equal(`no connection within ${CONNECT_MS} ms (connect timeout)`);
    });
  });
});
