// Sessions a client cannot forge that end on time, and (with Redis) that any broker replica can
// serve: real broker processes, a real redis-server, and an upstream that counts its sessions.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { startUpstreamServer, type UpstreamServer } from "../fixtures/upstream-server.js";
import { clientSessions } from "../helpers/fault-harness.js";
import { brokerMain, eventually, startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { JSON_AND_SSE, openRawSession, postMcp, type McpHttpResponse } from "../helpers/http.js";
import { startRedis, type RedisProcess } from "../helpers/redis.js";
import { RedisSessionState } from "../../internal/session/shared-state.js";
import { registryYaml, serverReady } from "../helpers/registry.js";

const PROTOCOL = "2025-06-18";

function keyFile(): string {
  const path = join(mkdtempSync(join(tmpdir(), "session-key-")), "key");
  writeFileSync(path, randomBytes(32));
  return path;
}

/** A session that can answer sampling requests. */
async function openSession(gateway: GatewayProcess): Promise<string> {
  return (await openRawSession(gateway.mcpUrl, PROTOCOL, {}, { sampling: {} })).sessionId;
}

function sessionHeaders(sessionId: string): Record<string, string> {
  return { "mcp-session-id": sessionId, "mcp-protocol-version": PROTOCOL };
}

function call(gateway: GatewayProcess, sessionId: string, name: string, args: Record<string, unknown> = {}, id: number | string = 1): Promise<McpHttpResponse> {
  return postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } }, sessionHeaders(sessionId));
}

function resultText(res: McpHttpResponse): string {
  const message = res.messages.find((m) => (m as { id?: unknown }).id !== undefined) as { result?: { content: Array<{ text: string }> }; error?: unknown } | undefined;
  if (!message?.result) throw new Error(`no result: ${res.status} ${res.text}`);
  return message.result.content[0]?.text ?? "";
}

/** The upstream session a call landed on, as the upstream itself reports it. */
async function upstreamSessionOf(gateway: GatewayProcess, sessionId: string): Promise<string> {
  return (JSON.parse(resultText(await call(gateway, sessionId, "s_whoami"))) as { sessionId: string }).sessionId;
}

async function ping(gateway: GatewayProcess, sessionId: string): Promise<number> {
  return (await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: "p", method: "ping" }, sessionHeaders(sessionId))).status;
}

async function deleteSession(gateway: GatewayProcess, sessionId: string): Promise<number> {
  return (await fetch(gateway.mcpUrl, { method: "DELETE", headers: sessionHeaders(sessionId) })).status;
}

describe("sessions: signed ids, expiry and sharing between replicas", function () {
  this.timeout(60_000);
  let upstream: UpstreamServer;
  let registry: string;
  const gateways: GatewayProcess[] = [];
  /** A broker that has discovered the upstream's tools. */
  const start = async (args: string[]) => {
    const gateway = await startGateway(registry, args);
    gateways.push(gateway);
    await serverReady(gateway.baseUrl, "shared/up");
    return gateway;
  };

  before(async () => {
    upstream = await startUpstreamServer({ name: "shared" });
    registry = registryYaml([{ name: "shared/up", url: upstream.url, prefix: "s_" }]);
  });
  after(async () => {
    await Promise.all(gateways.map((gateway) => gateway.stop()));
    await upstream.stop();
  });

  describe("signed ids (one broker, no Redis)", function () {
    let gateway: GatewayProcess;
    before(async () => {
      gateway = await start(["--session-max-lifetime-seconds", "3"]);
    });

    it("answers 404 to forged, tampered and foreign ids, and serves the real one", async () => {
      const foreign = await openSession(await start([]));
      const sessionId = await openSession(gateway);
      expect(await ping(gateway, sessionId)).to.equal(200);
      const [random = "", expiry = "", signature = ""] = sessionId.split(".");
      const flip = (text: string) => (text[0] === "A" ? "B" : "A") + text.slice(1);
      const forged = [
        `${random}.${expiry}.${flip(signature)}`,
        `${flip(random)}.${expiry}.${signature}`,
        `${random}.${(parseInt(expiry, 36) + 3600).toString(36)}.${signature}`,
        randomBytes(18).toString("base64url"),
        foreign,
      ];
      for (const id of forged) {
        const res = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: 1, method: "ping" }, sessionHeaders(id));
        expect(res.status, id).to.equal(404);
        expect(res.messages[0]).to.deep.include({ error: { code: -32001, message: "Session not found" } });
      }
    });

    it("ends a session at its signed lifetime, however active, and closes its upstream sessions", async () => {
      const before = clientSessions(upstream);
      const sessionId = await openSession(gateway);
      expect(resultText(await call(gateway, sessionId, "s_echo", { text: "hi" }))).to.equal("hi");
      expect(clientSessions(upstream)).to.equal(before + 1);
      await eventually(async () => (await ping(gateway, sessionId)) === 404, 6_000, "session expired");
      await eventually(() => clientSessions(upstream) === before, 5_000, "upstream session closed");
    });
  });

  it("refuses to share sessions through Redis without a shared key", async () => {
    const child = spawn(process.execPath, [brokerMain, "--redis-url", "redis://127.0.0.1:1"], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, "exit")) as [number];
    expect(code).to.equal(2);
    expect(stderr).to.contain("--redis-url needs a session key shared by all replicas");
  });

  it("closes upstream sessions nobody used for --upstream-idle-timeout-seconds, and reopens on the next call", async () => {
    const gateway = await start(["--upstream-idle-timeout-seconds", "1"]);
    const before = clientSessions(upstream);
    const sessionId = await openSession(gateway);
    const first = await upstreamSessionOf(gateway, sessionId);
    expect(clientSessions(upstream)).to.equal(before + 1);
    await eventually(() => clientSessions(upstream) === before, 5_000, "idle upstream session closed");
    const second = await upstreamSessionOf(gateway, sessionId);
    expect(second).to.not.equal(first);
    expect(await deleteSession(gateway, sessionId)).to.equal(200);
    await eventually(() => clientSessions(upstream) === before, 5_000, "upstream session closed on DELETE");
  });

  describe("two replicas and a real Redis", function () {
    let redis: RedisProcess;
    let key: string;
    let a: GatewayProcess;
    let b: GatewayProcess;
    const replica = (extra: string[] = []) => start(["--redis-url", redis.url, "--session-key-file", key, ...extra]);

    before(async () => {
      redis = await startRedis();
      key = keyFile();
      [a, b] = await Promise.all([replica(), replica()]);
    });
    after(async () => {
      await redis?.stop();
    });

    it("initialize on one, call on the other: the same upstream session is reused", async () => {
      const opened = upstream.sessionsOpened();
      const sessionId = await openSession(a);
      const viaA = await upstreamSessionOf(a, sessionId);
      const viaB = await upstreamSessionOf(b, sessionId);
      expect(viaB).to.equal(viaA);
      expect(upstream.sessionsOpened()).to.equal(opened + 1);
      // Every key has a TTL.
      for (const name of await redis.client.keys("mcp-gw:*")) expect(await redis.client.pttl(name), name).to.be.greaterThan(0);
    });

    it("a replica that took the session up before the other opened an upstream session reuses that one", async () => {
      const opened = upstream.sessionsOpened();
      const sessionId = await openSession(a);
      // B holds the session from here on, with no upstream session recorded yet.
      expect(await ping(b, sessionId)).to.equal(200);
      const viaA = await upstreamSessionOf(a, sessionId);
      const viaB = await upstreamSessionOf(b, sessionId);
      expect(viaB).to.equal(viaA);
      expect(upstream.sessionsOpened()).to.equal(opened + 1);
    });

    it("two replicas opening the session's upstream session at the same moment end up with one", async () => {
      const opened = upstream.sessionsOpened();
      const sessionId = await openSession(a);
      expect(await ping(b, sessionId)).to.equal(200);
      upstream.delayInitialize(300);
      try {
        const [viaA, viaB] = await Promise.all([upstreamSessionOf(a, sessionId), upstreamSessionOf(b, sessionId)]);
        expect(viaB).to.equal(viaA);
      } finally {
        upstream.delayInitialize(0);
      }
      expect(upstream.sessionsOpened()).to.equal(opened + 1);
      await eventually(async () => (await redis.client.keys("mcp-gw:opening:*")).length === 0, 2_000, "the opening claim released");
      expect(await deleteSession(a, sessionId)).to.equal(200);
    });

    it("DELETE on one replica ends the session on all and closes its upstream session", async () => {
      const before = clientSessions(upstream);
      const sessionId = await openSession(a);
      await upstreamSessionOf(a, sessionId);
      await upstreamSessionOf(b, sessionId);
      expect(clientSessions(upstream)).to.equal(before + 1);
      expect(await deleteSession(b, sessionId)).to.equal(200);
      await eventually(async () => (await ping(a, sessionId)) === 404, 5_000, "session gone on the other replica");
      await eventually(() => clientSessions(upstream) === before, 5_000, "upstream session closed");
    });

    it("routes the client's answer to a sampling request forwarded by the other replica", async () => {
      const sessionId = await openSession(a);
      const res = await fetch(a.mcpUrl, {
        method: "POST",
        headers: { "content-type": "application/json", accept: JSON_AND_SSE, ...sessionHeaders(sessionId) },
        body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "s_sample", arguments: { prompt: "hello" } } }),
      });
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      const nextMessage = async (): Promise<{ id?: unknown; method?: string; result?: { content: Array<{ text: string }> } }> => {
        for (;;) {
          const end = text.indexOf("\n\n");
          if (end >= 0) {
            const event = text.slice(0, end);
            text = text.slice(end + 2);
            const data = event.split("\n").find((line) => line.startsWith("data: "));
            if (data) return JSON.parse(data.slice(6));
            continue;
          }
          const { value, done } = await reader.read();
          if (done) throw new Error("stream ended");
          text += value;
        }
      };
      const request = await nextMessage();
      expect(request.method).to.equal("sampling/createMessage");
      const answer = await postMcp(b.mcpUrl, { jsonrpc: "2.0", id: request.id, result: { role: "assistant", content: { type: "text", text: "sampled on b" }, model: "test" } }, sessionHeaders(sessionId));
      expect(answer.status).to.equal(202);
      const final = await nextMessage();
      expect(final.id).to.equal(7);
      expect(final.result?.content[0]?.text).to.equal("sampled on b");
    });

    it("stops a call running on one replica when the cancellation reaches the other", async () => {
      const sessionId = await openSession(a);
      const count = (method: string) => upstream.methodsSeen().filter((seen) => seen === method).length;
      const [callsBefore, cancelsBefore] = [count("tools/call"), count("notifications/cancelled")];
      const started = Date.now();
      // 30 s of work unless cancelled.
      const running = call(a, sessionId, "s_slow", { steps: 600, delayMs: 50 }, "long");
      await eventually(() => count("tools/call") === callsBefore + 1, 5_000, "the call running upstream");
      const cancel = await postMcp(b.mcpUrl, { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: "long", reason: "user pressed stop" } }, sessionHeaders(sessionId));
      expect(cancel.status).to.equal(202);
      const res = await running;
      expect(Date.now() - started, "the call ended long before its 30 s").to.be.lessThan(5_000);
      expect(res.messages.filter((message) => (message as { id?: unknown }).id === "long")).to.deep.equal([]);
      expect(count("notifications/cancelled")).to.equal(cancelsBefore + 1);
      expect(resultText(await call(b, sessionId, "s_echo", { text: "still here" }))).to.equal("still here");
    });

    it("loses no session when a broker is killed mid-call", async () => {
      const before = clientSessions(upstream);
      const victim = await replica();
      const sessionId = await openSession(victim);
      const upstreamSession = await upstreamSessionOf(victim, sessionId);
      const inFlight = call(victim, sessionId, "s_slow", { steps: 50, delayMs: 100 }).then(
        () => "answered",
        () => "transport error",
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      victim.child.kill("SIGKILL");
      expect(await inFlight).to.equal("transport error");
      expect(await upstreamSessionOf(b, sessionId)).to.equal(upstreamSession);
      const restarted = await replica();
      expect(await upstreamSessionOf(restarted, sessionId)).to.equal(upstreamSession);
      expect(clientSessions(upstream)).to.equal(before + 1);
      expect(await deleteSession(restarted, sessionId)).to.equal(200);
      await eventually(() => clientSessions(upstream) === before, 5_000, "upstream session closed");
    });

    it("keeps serving through a Redis restart and puts the sessions it holds back", async () => {
      const sessionId = await openSession(a);
      const upstreamSession = await upstreamSessionOf(a, sessionId);
      await redis.kill();
      // Down: sessions a replica holds keep working; new ones are refused with a retry hint.
      expect(await upstreamSessionOf(a, sessionId)).to.equal(upstreamSession);
      const refused = await postMcp(a.mcpUrl, { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: "x", version: "1" } } });
      expect(refused.status).to.equal(503);
      expect(refused.headers.get("retry-after")).to.equal("1");
      await redis.start();
      // Back, empty: the replica that holds the session writes it again, so a replica that never saw it can serve it.
      await eventually(async () => (await redis.client.exists(`mcp-gw:session:${sessionId}`).catch(() => 0)) === 1, 15_000, "session written back");
      const fresh = await replica();
      expect(await upstreamSessionOf(fresh, sessionId)).to.equal(upstreamSession);
      expect(await openSession(a)).to.be.a("string");
    });

    it("never writes a field back into a session that is gone, which would leave a key without a TTL", async () => {
      const state = new RedisSessionState({ url: redis.url, commandTimeoutMs: 2_000 });
      try {
        expect(await state.connected(5_000)).to.equal(true);
        const init = { protocolVersion: PROTOCOL, clientInfo: { name: "direct", version: "1" }, clientCapabilities: {} };
        await state.create("gone", { init, expiresAt: Date.now() + 60_000, subscriptions: new Map(), upstreams: new Map() }, Date.now() + 60_000);
        await state.setField("gone", "logLevel", "debug");
        expect((await state.load("gone"))?.logLevel).to.equal("debug");
        expect(await redis.client.pttl("mcp-gw:session:gone")).to.be.greaterThan(0);
        await state.remove("gone");
        await state.setField("gone", "logLevel", "info");
        expect(await redis.client.exists("mcp-gw:session:gone")).to.equal(0);
      } finally {
        state.close();
      }
    });

    it("expires an idle session once, on the replica that claims it, and closes its upstream session", async () => {
      const [c, d] = await Promise.all([replica(["--session-idle-timeout-seconds", "2"]), replica(["--session-idle-timeout-seconds", "2"])]);
      const before = clientSessions(upstream);
      const sessionId = await openSession(c);
      await upstreamSessionOf(c, sessionId);
      await upstreamSessionOf(d, sessionId);
      expect(clientSessions(upstream)).to.equal(before + 1);
      await eventually(async () => (await redis.client.exists(`mcp-gw:session:${sessionId}`)) === 0, 10_000, "session expired in Redis");
      await eventually(() => clientSessions(upstream) === before, 5_000, "upstream session closed");
      expect(await ping(d, sessionId)).to.equal(404);
      expect(await ping(c, sessionId)).to.equal(404);
    });
  });
});
