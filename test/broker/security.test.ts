// The security review's findings, each reproduced against the real broker and a recording upstream:
// sessions bound to their user, tokens never reused from the past, routing that no other tenant
// can take over, batches and client-made state within bounds, grants bound to audience and caller,
// and registry errors that never print a credential.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from "jose";
import { startUpstreamServer, type UpstreamServer } from "../fixtures/upstream-server.js";
import { eventually, startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { initializeRequest, JSON_AND_SSE, openRawSession, postMcp, type McpHttpResponse } from "../helpers/http.js";
import { startRedis, type RedisProcess } from "../helpers/redis.js";
import { fetchStatus, registryYaml, serverReady, serverStatus, type TestServer } from "../helpers/registry.js";
import { newTokenIssuer, type TokenIssuer } from "../helpers/token-issuer.js";

const call = (id: number | string, name: string, args: Record<string, unknown> = {}) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } });
const request = (id: number | string, method: string, params: Record<string, unknown> = {}) => ({ jsonrpc: "2.0", id, method, params });

function first(res: McpHttpResponse): { result?: Record<string, unknown>; error?: { code: number; message: string } } {
  return res.messages[0] as { result?: Record<string, unknown>; error?: { code: number; message: string } };
}

function resultText(res: McpHttpResponse): string {
  const result = first(res).result as { content?: Array<{ text: string }>; contents?: Array<{ text: string }> } | undefined;
  return (result?.content ?? result?.contents)?.[0]?.text ?? "";
}

describe("security: identity, tenants, bounds, grants and logs", function () {
  this.timeout(60_000);
  const gateways: GatewayProcess[] = [];
  const upstreams: UpstreamServer[] = [];

  async function upstream(name: string, options: { catchAllTemplate?: boolean; port?: number } = {}): Promise<UpstreamServer> {
    const server = await startUpstreamServer({ name, ...options });
    upstreams.push(server);
    return server;
  }

  async function gateway(servers: TestServer[], flags: string[] = [], virtualServers: Array<Record<string, unknown>> = []): Promise<GatewayProcess> {
    const started = await startGateway(registryYaml(servers, virtualServers as Array<{ name: string; tools: string[] }>), flags);
    gateways.push(started);
    for (const server of servers) await serverReady(started.baseUrl, server.name);
    return started;
  }

  afterEach(async () => {
    await Promise.all(gateways.splice(0).map((g) => g.stop()));
    await Promise.all(upstreams.splice(0).map((u) => u.stop()));
  });

  describe("sessions belong to the identity that created them", () => {
    let issuer: TokenIssuer;
    before(async () => {
      issuer = await newTokenIssuer();
    });
    const bearer = async (sub: string, expiresIn?: number | string) => `Bearer ${await issuer.token({ sub }, expiresIn)}`;

    it("another user's request on a session (POST, GET, DELETE) gets 404 as for an unknown session; the owner's session lives on", async () => {
      const up = await upstream("alpha");
      const gw = await gateway([{ name: "team-a/alpha", url: up.url, prefix: "a_" }], issuer.flags);
      const alice = await bearer("alice");
      const bob = await bearer("bob");
      const { sessionId } = await openRawSession(gw.mcpUrl, "2025-06-18", { authorization: alice });
      const before = up.methodsSeen().length;

      const post = await postMcp(gw.mcpUrl, call(1, "a_echo", { text: "bob was here" }), { authorization: bob, "mcp-session-id": sessionId });
      expect(post.status).to.equal(404);
      expect(first(post).error?.code).to.equal(-32001);
      const get = await fetch(gw.mcpUrl, { headers: { accept: "text/event-stream", authorization: bob, "mcp-session-id": sessionId } });
      expect(get.status).to.equal(404);
      await get.body?.cancel();
      const del = await fetch(gw.mcpUrl, { method: "DELETE", headers: { authorization: bob, "mcp-session-id": sessionId } });
      expect(del.status).to.equal(404);
      expect(up.methodsSeen().length, "nothing of bob's reached the upstream").to.equal(before);

      const own = await postMcp(gw.mcpUrl, call(2, "a_echo", { text: "alice" }), { authorization: alice, "mcp-session-id": sessionId });
      expect(own.status).to.equal(200);
      expect(resultText(own)).to.include("alice");
    });

    it("an upstream taking the client's token gets the token of each request, never the one saved at initialize; an expired token sends nothing", async () => {
      const up = await upstream("alpha");
      const gw = await gateway([{ name: "team-a/alpha", url: up.url, prefix: "a_", forwardClientAuthorization: true }], issuer.flags);
      const shortLived = await bearer("alice", 2);
      const { sessionId } = await openRawSession(gw.mcpUrl, "2025-06-18", { authorization: shortLived });
      const firstCall = await postMcp(gw.mcpUrl, call(1, "a_whoami"), { authorization: shortLived, "mcp-session-id": sessionId });
      expect(JSON.parse(resultText(firstCall)).authorization).to.equal(shortLived);

      const refreshed = await bearer("alice");
      const secondCall = await postMcp(gw.mcpUrl, call(2, "a_whoami"), { authorization: refreshed, "mcp-session-id": sessionId });
      expect(JSON.parse(resultText(secondCall)).authorization, "the request's own token").to.equal(refreshed);

      await new Promise((r) => setTimeout(r, 2_500));
      const seen = up.authorizationsSeen().length;
      const expired = await postMcp(gw.mcpUrl, call(3, "a_whoami"), { authorization: shortLived, "mcp-session-id": sessionId });
      expect(expired.status).to.equal(401);
      expect(up.authorizationsSeen().length, "nothing sent upstream for the expired token").to.equal(seen);
    });

    it("tokens without exp are refused", async () => {
      const up = await upstream("alpha");
      const gw = await gateway([{ name: "team-a/alpha", url: up.url, prefix: "a_" }], issuer.flags);
      const res = await postMcp(gw.mcpUrl, initializeRequest(), { authorization: `Bearer ${await issuer.token({ sub: "alice" }, null)}` });
      expect(res.status).to.equal(401);
      await eventually(() => /missing required \\"exp\\" claim/.test(gw.output()), 5_000, "the reason logged");
    });

    it("with Redis, another replica also refuses a session to another identity", async () => {
      const redis: RedisProcess = await startRedis();
      try {
        const up = await upstream("alpha");
        const keyFile = join(mkdtempSync(join(tmpdir(), "mcp-key-")), "key");
        writeFileSync(keyFile, "k".repeat(48));
        const shared = [...issuer.flags, "--redis-url", redis.url, "--session-key-file", keyFile];
        const one = await gateway([{ name: "team-a/alpha", url: up.url, prefix: "a_" }], shared);
        const two = await gateway([{ name: "team-a/alpha", url: up.url, prefix: "a_" }], shared);
        const alice = await bearer("alice");
        const { sessionId } = await openRawSession(one.mcpUrl, "2025-06-18", { authorization: alice });
        const stolen = await postMcp(two.mcpUrl, call(1, "a_echo", { text: "x" }), { authorization: await bearer("bob"), "mcp-session-id": sessionId });
        expect(stolen.status).to.equal(404);
        const own = await postMcp(two.mcpUrl, call(2, "a_echo", { text: "mine" }), { authorization: alice, "mcp-session-id": sessionId });
        expect(own.status).to.equal(200);
        expect(resultText(own)).to.include("mine");
      } finally {
        await redis.stop();
      }
    });
  });

  describe("routing is settled by configuration, not by timing", () => {
    it("a tenant sharing a prefix never takes over the victim's tools, not even while the victim's upstream restarts", async () => {
      const victim = await upstream("victim");
      const attacker = await upstream("attacker");
      const servers = [
        { name: "team-a/victim", url: victim.url, prefix: "" },
        { name: "team-b/attacker", url: attacker.url, prefix: "" },
      ];
      const gw = await startGateway(registryYaml(servers), ["--refresh-interval-seconds", "1", "--retry-max-seconds", "1"]);
      gateways.push(gw);
      await serverReady(gw.baseUrl, "team-a/victim");
      await eventually(async () => serverStatus(await fetchStatus(gw.baseUrl), "team-b/attacker")?.message.startsWith("conflicting tools discovered"), 10_000, "attacker refused");

      await victim.stop();
      await eventually(async () => serverStatus(await fetchStatus(gw.baseUrl), "team-a/victim")?.ready === false, 10_000, "victim seen down");
      // Give discovery rounds a chance to hand the names over, as it did before.
      await new Promise((r) => setTimeout(r, 1_500));
      const attackerStatus = serverStatus(await fetchStatus(gw.baseUrl), "team-b/attacker");
      expect(attackerStatus?.ready, "the attacker stays refused while the victim is down").to.equal(false);
      const { sessionId } = await openRawSession(gw.mcpUrl);
      const before = attacker.methodsSeen().filter((m) => m === "tools/call").length;
      const res = await postMcp(gw.mcpUrl, call(1, "whoami"), { "mcp-session-id": sessionId });
      expect(first(res).error?.message ?? "").to.not.include("attacker");
      expect(attacker.methodsSeen().filter((m) => m === "tools/call").length, "no call reached the attacker").to.equal(before);
    });

    it("a catch-all resource template does not capture other servers' URIs: the most specific template wins, and the overlap is reported", async () => {
      const files = await upstream("files");
      const greedy = await upstream("greedy", { catchAllTemplate: true });
      // The greedy server comes first in the registry: order alone must not hand it the URIs.
      const gw = await gateway([
        { name: "team-b/greedy", url: greedy.url, prefix: "g_" },
        { name: "team-a/files", url: files.url, prefix: "f_" },
      ]);
      const { sessionId } = await openRawSession(gw.mcpUrl);
      const item = await postMcp(gw.mcpUrl, request(1, "resources/read", { uri: "fixture://files/items/7" }), { "mcp-session-id": sessionId });
      expect(resultText(item)).to.equal("item 7 of files");
      const other = await postMcp(gw.mcpUrl, request(2, "resources/read", { uri: "https://example.com/x" }), { "mcp-session-id": sessionId });
      expect(resultText(other)).to.equal("caught by greedy: https://example.com/x");
      const warnings = (serverStatus(await fetchStatus(gw.baseUrl), "team-a/files") as { warnings: string[] }).warnings;
      expect(warnings.join("\n")).to.match(/fixture:\/\/files\/items\/\{id\} overlaps \{\+uri\} of team-b\/greedy/);
    });
  });

  describe("batches and client-made state are bounded", () => {
    it("a batch is charged one rate token per request: 500 requests under a limit of 1/s reach no upstream", async () => {
      const up = await upstream("alpha");
      const gw = await gateway([{ name: "team-a/alpha", url: up.url, prefix: "a_" }], ["--client-rate-limit", "1", "--client-rate-burst", "5", "--max-batch-size", "1000"]);
      const { sessionId } = await openRawSession(gw.mcpUrl, "2025-03-26");
      const calls = () => up.methodsSeen().filter((m) => m === "tools/call").length;
      const batch = Array.from({ length: 500 }, (_, i) => call(i + 1, "a_echo", { text: String(i) }));
      const refused = await postMcp(gw.mcpUrl, batch, { "mcp-session-id": sessionId });
      expect(refused.status).to.equal(429);
      expect(refused.text).to.include("batch of 500 requests");
      expect(calls()).to.equal(0);

      const small = await postMcp(gw.mcpUrl, batch.slice(0, 3), { "mcp-session-id": sessionId });
      expect(small.status).to.equal(200);
      expect(small.messages).to.have.length(3);
      // 5 - 2 (initialize + initialized) - 3 = 0 tokens left: the next batch of 2 waits.
      const next = await postMcp(gw.mcpUrl, batch.slice(3, 5), { "mcp-session-id": sessionId });
      expect(next.status).to.equal(429);
      expect(calls()).to.equal(3);
    });

    it("a batch takes one stream slot per request, and has a length cap", async () => {
      const up = await upstream("alpha");
      const gw = await gateway([{ name: "team-a/alpha", url: up.url, prefix: "a_" }], ["--max-streams-per-session", "4", "--max-batch-size", "10"]);
      const { sessionId } = await openRawSession(gw.mcpUrl, "2025-03-26");
      const batch = (n: number) => Array.from({ length: n }, (_, i) => call(i + 1, "a_echo", { text: String(i) }));
      const tooMany = await postMcp(gw.mcpUrl, batch(5), { "mcp-session-id": sessionId });
      expect(tooMany.status).to.equal(429);
      expect(tooMany.text).to.include("a batch of 5 requests does not fit in the session's 4 streams or requests");
      const tooLong = await postMcp(gw.mcpUrl, batch(11), { "mcp-session-id": sessionId });
      expect(tooLong.status).to.equal(400);
      expect(tooLong.text).to.include("at most 10 messages");
      const fits = await postMcp(gw.mcpUrl, batch(4), { "mcp-session-id": sessionId });
      expect(fits.status).to.equal(200);
      expect(up.methodsSeen().filter((m) => m === "tools/call")).to.have.length(4);
    });

    it("oversized initialize params are refused with -32602 and make no session; the heap stays put", async () => {
      const up = await upstream("alpha");
      const gw = await gateway([{ name: "team-a/alpha", url: up.url, prefix: "a_" }], ["--client-initialize-rate-limit", "0"]);
      const huge = initializeRequest(1, "2025-06-18", { experimental: { junk: { blob: "x".repeat(3_500_000) } } });
      for (let i = 0; i < 10; i++) {
        const res = await postMcp(gw.mcpUrl, huge);
        expect(res.status).to.equal(200);
        expect(res.headers.get("mcp-session-id")).to.equal(null);
        expect(first(res).error?.code).to.equal(-32602);
        expect(first(res).error?.message).to.match(/at most 65536 are accepted/);
      }
      const metrics = await (await fetch(`${gw.baseUrl}/metrics`)).text();
      expect(metrics).to.match(/^mcp_gateway_sessions 0$/m);
    });

    it("sessions per client, initialize rate, subscriptions per session and duplicate in-flight ids are bounded", async () => {
      const up = await upstream("alpha");
      const gw = await gateway(
        [{ name: "team-a/alpha", url: up.url, prefix: "a_" }],
        ["--max-sessions-per-client", "2", "--client-initialize-rate-limit", "0.5", "--client-initialize-rate-burst", "3", "--max-subscriptions-per-session", "1"],
      );
      const one = await openRawSession(gw.mcpUrl);
      await openRawSession(gw.mcpUrl);
      const third = await postMcp(gw.mcpUrl, initializeRequest(9));
      expect(third.status).to.equal(429);
      expect(third.text).to.include("already holds 2 sessions");
      await fetch(gw.mcpUrl, { method: "DELETE", headers: { "mcp-session-id": one.sessionId } });
      const burstSpent = await postMcp(gw.mcpUrl, initializeRequest(10));
      expect(burstSpent.status, "over the initialize burst of 3").to.equal(429);
      expect(burstSpent.text).to.include("initialize rate limit");
      await new Promise((r) => setTimeout(r, 2_100));
      const again = await openRawSession(gw.mcpUrl);

      const headers = { "mcp-session-id": again.sessionId };
      const subscribed = await postMcp(gw.mcpUrl, request(1, "resources/subscribe", { uri: "fixture://alpha/readme" }), headers);
      expect(first(subscribed).result).to.deep.equal({});
      const second = await postMcp(gw.mcpUrl, request(2, "resources/subscribe", { uri: "fixture://alpha/items/1" }), headers);
      expect(first(second).error?.message).to.include("already holds 1 subscriptions");

      const slow = postMcp(gw.mcpUrl, call(7, "a_slow", { steps: 2, delayMs: 500 }), headers);
      await eventually(() => up.methodsSeen().includes("tools/call"), 5_000, "slow call upstream");
      const duplicate = await postMcp(gw.mcpUrl, call(7, "a_echo", { text: "dup" }), headers);
      expect(first(duplicate).error?.code).to.equal(-32600);
      expect(first(duplicate).error?.message).to.include("already in flight");
      expect(first(await slow).result, "the first request under the id is answered").to.not.equal(undefined);
    });
  });

  describe("grants: short-lived, for this gateway, for this caller", () => {
    const TOOLS_ISSUER = "https://policy.test";
    let sign: (claims: JWTPayload, options?: { audience?: string | null; exp?: number | null; iat?: number }) => Promise<string>;
    let toolsJwks: string;
    let issuer: TokenIssuer;

    before(async () => {
      issuer = await newTokenIssuer();
      const { privateKey, publicKey } = await generateKeyPair("ES256");
      toolsJwks = join(mkdtempSync(join(tmpdir(), "mcp-grants-")), "jwks.json");
      writeFileSync(toolsJwks, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "policy", alg: "ES256" }] }));
      sign = (claims, options = {}) => {
        const now = Math.floor(Date.now() / 1000);
        const jwt = new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "policy" }).setIssuer(TOOLS_ISSUER).setIssuedAt(options.iat ?? now);
        if (options.audience !== null) jwt.setAudience(options.audience ?? "mcp-gateway");
        if (options.exp !== null) jwt.setExpirationTime(options.exp ?? now + 60);
        return jwt.sign(privateKey);
      };
    });

    it("refuses grants without exp, for another audience, too old, or issued to another user; accepts the caller's own", async () => {
      const up = await upstream("alpha");
      const gw = await gateway(
        [{ name: "team-a/alpha", url: up.url, prefix: "a_" }],
        [...issuer.flags, "--authorized-tools-jwks-file", toolsJwks, "--authorized-tools-issuer", TOOLS_ISSUER, "--authorized-tools-max-age-seconds", "60"],
      );
      const alice = `Bearer ${await issuer.token({ sub: "alice" })}`;
      const tools = { "allowed-tools": ["a_echo"] };
      const now = Math.floor(Date.now() / 1000);
      const attempt = async (grant: string) => postMcp(gw.mcpUrl, initializeRequest(), { authorization: alice, "x-authorized-tools": grant });
      const cases: Array<[string, string, RegExp]> = [
        ["no exp", await sign({ ...tools, sub: "alice" }, { exp: null }), /missing required \\"exp\\" claim/],
        ["foreign audience", await sign({ ...tools, sub: "alice" }, { audience: "another-service" }), /unexpected \\"aud\\" claim value/],
        ["too old", await sign({ ...tools, sub: "alice" }, { iat: now - 120, exp: now + 60 }), /\\"iat\\" claim timestamp check failed \(too far in the past\)/],
        ["issued to bob", await sign({ ...tools, sub: "bob" }), /unexpected \\"sub\\" claim value/],
      ];
      for (const [what, grant, logged] of cases) {
        const res = await attempt(grant);
        expect(res.status, what).to.equal(401);
        // The log line travels its own pipe: it may arrive after the answer.
        await eventually(() => logged.test(gw.output()), 5_000, `${what} logged`);
      }
      const own = await attempt(await sign({ ...tools, sub: "alice" }));
      expect(own.status).to.equal(200);
    });

    it("grants and virtual servers cover prompts, resources and templates: what may not be read is not seen", async () => {
      const up = await upstream("alpha");
      const gw = await gateway(
        [{ name: "team-a/alpha", url: up.url, prefix: "a_" }],
        ["--authorized-tools-jwks-file", toolsJwks, "--authorized-tools-issuer", TOOLS_ISSUER, "--authorized-tools-audience", "mcp-gateway"],
        [{ name: "team-a/docs", tools: ["a_echo"], prompts: ["a_greeting"], resources: ["fixture://alpha/readme"] }],
      );
      const toolsOnly = await sign({ "allowed-tools": ["a_echo"] });
      const { sessionId } = await openRawSession(gw.mcpUrl, "2025-06-18", { "x-authorized-tools": toolsOnly });
      const as = (grant: string, extra: Record<string, string> = {}) => ({ "mcp-session-id": sessionId, "x-authorized-tools": grant, ...extra });
      const list = async (method: string, key: string, headers: Record<string, string>) =>
        ((first(await postMcp(gw.mcpUrl, request(1, method), headers)).result as Record<string, Array<Record<string, string>>>)[key] ?? []).map((entry) => entry.uri ?? entry.uriTemplate ?? entry.name);

      expect(await list("resources/list", "resources", as(toolsOnly))).to.deep.equal([]);
      expect(await list("resources/templates/list", "resourceTemplates", as(toolsOnly))).to.deep.equal([]);
      const hidden = await postMcp(gw.mcpUrl, request(2, "resources/read", { uri: "fixture://alpha/readme" }), as(toolsOnly));
      expect(first(hidden).error?.code).to.equal(-32002);

      const withTemplate = await sign({ "allowed-tools": ["a_echo", "fixture://alpha/items/{id}"] });
      expect(await list("resources/templates/list", "resourceTemplates", as(withTemplate))).to.deep.equal(["fixture://alpha/items/{id}"]);
      const item = await postMcp(gw.mcpUrl, request(3, "resources/read", { uri: "fixture://alpha/items/3" }), as(withTemplate));
      expect(resultText(item)).to.equal("item 3 of alpha");

      // The virtual server shows its prompt and its one resource; the grant narrows further.
      const everything = await sign({ "allowed-tools": ["a_echo", "a_greeting", "fixture://alpha/readme", "fixture://alpha/items/{id}"] });
      const vs = as(everything, { "x-mcp-virtualserver": "team-a/docs" });
      expect(await list("prompts/list", "prompts", vs)).to.deep.equal(["a_greeting"]);
      expect(await list("resources/list", "resources", vs)).to.deep.equal(["fixture://alpha/readme"]);
      const outside = await postMcp(gw.mcpUrl, request(4, "resources/read", { uri: "fixture://alpha/items/3" }), vs);
      expect(first(outside).error?.code).to.equal(-32002);
    });
  });

  it("a broken registry holding a credential is rejected with line and column, and the credential is in no log line", async () => {
    const up = await upstream("alpha");
    const gw = await gateway([{ name: "team-a/alpha", url: up.url, prefix: "a_" }]);
    const secret = "Bearer TOPSECRET-4c1b9e";
    gw.writeConfig(`servers:\n  - name: team-a/alpha\n    url: ${up.url}\n    credential: ${secret}: [oops\n`);
    await eventually(() => gw.output().includes("registry rejected"), 5_000, "rejection logged");
    gw.writeConfig(`servers:\n  - name: team-a/alpha\n    url: ${up.url}\n    credential: "${secret}\n`);
    await eventually(() => gw.output().split("registry rejected").length > 2, 5_000, "second rejection logged");
    const rejections = gw.output().split("\n").filter((line) => line.includes("registry rejected"));
    for (const line of rejections) expect(line).to.match(/at line \d+, column \d+/);
    expect(gw.output()).to.not.include("TOPSECRET");
  });

  it("on loopback, a page of another local app (other port) is refused; the gateway's own origin passes", async () => {
    const up = await upstream("alpha");
    const gw = await gateway([{ name: "team-a/alpha", url: up.url, prefix: "a_" }]);
    const port = new URL(gw.baseUrl).port;
    const post = (origin: string) =>
      fetch(gw.mcpUrl, { method: "POST", headers: { "content-type": "application/json", accept: JSON_AND_SSE, origin }, body: JSON.stringify(initializeRequest()) });
    expect((await post("http://127.0.0.1:3000")).status).to.equal(403);
    expect((await post(`https://127.0.0.1:${port}`)).status, "another scheme is another origin").to.equal(403);
    expect((await post(`http://127.0.0.1:${port}`)).status).to.equal(200);
  });
});
