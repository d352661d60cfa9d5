// Bad upstreams next to a healthy one: each failure shows up in /status and in JSON-RPC errors
// with a message that says what went wrong, answers always carry the request's id and come in
// bounded time, and the healthy server (prefix ok_) keeps working throughout.
import { expect } from "chai";
import { startRawUpstream, type RawMode, type RawUpstream } from "../fixtures/raw-upstream.js";
import { startUpstreamServer, type UpstreamServer } from "../fixtures/upstream-server.js";
import { eventually, freePort, startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { openRawSession, postMcp } from "../helpers/http.js";
import { connectClient, textOf, type TestClient } from "../helpers/mcp-client.js";
import { fetchStatus, registryYaml, serverStatus, type StatusDocument, type TestServer } from "../helpers/registry.js";

const DISCOVERY_TIMEOUT_MS = 1_000;
const UPSTREAM_TIMEOUT_MS = 2_000;

interface JsonRpcError {
  jsonrpc: "2.0";
  id: string | number | null;
  error: { code: number; message: string };
}

/** Upstreams that never get through discovery, and the /status message each must produce. */
const BROKEN: Array<{ name: string; prefix: string; mode: RawMode | "nothing-listening"; message: string }> = [
  { name: "faults/refused", prefix: "refused_", mode: "nothing-listening", message: "connection refused" },
  { name: "faults/http-500", prefix: "h500_", mode: "http-500", message: "HTTP 500: boom" },
  { name: "faults/garbage", prefix: "garbage_", mode: "garbage", message: 'invalid response: not JSON ("this is not json{")' },
  { name: "faults/hang", prefix: "hang_", mode: "hang", message: `timed out after ${DISCOVERY_TIMEOUT_MS} ms` },
  { name: "faults/non-mcp-json", prefix: "nonmcp_", mode: "non-mcp-json", message: 'invalid response: jsonrpc must be "2.0"' },
  { name: "faults/unsupported-version", prefix: "ancient_", mode: "unsupported-version", message: 'unsupported protocol version "1999-01-01"' },
];

describe("upstream faults: bad upstreams get clear errors and hurt nobody else", function () {
  this.timeout(20_000);
  let ok: UpstreamServer;
  let fragile: UpstreamServer;
  const raws = new Map<string, RawUpstream>();
  let gateway: GatewayProcess;
  let client: TestClient;
  let echoes = 0;
  const firstFailure = new Map<string, StatusDocument["servers"][number]>();

  async function toolNames(): Promise<string[]> {
    return (await client.client.listTools()).tools.map((tool) => tool.name);
  }

  /** Waits until discovery of a server settled (ready, or failed with a reason) and returns its status. */
  function settledStatus(name: string, predicate: (s: { ready: boolean; message: string }) => boolean = (s) => s.message !== "connecting") {
    return eventually(async () => {
      const status = serverStatus(await fetchStatus(gateway.baseUrl), name);
      return status && predicate(status) ? status : undefined;
    }, 8_000, `status of ${name}`);
  }

  /** The healthy server still answers, through the shared SDK client and through a fresh raw session. */
  async function expectOkEchoStillWorks(): Promise<void> {
    const text = `still fine ${++echoes}`;
    expect(textOf(await client.client.callTool({ name: "ok_echo", arguments: { text } }))).to.equal(text);
    const { sessionId } = await openRawSession(gateway.mcpUrl);
    const res = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: `ok-${echoes}`, method: "tools/call", params: { name: "ok_echo", arguments: { text } } }, { "mcp-session-id": sessionId });
    expect(res.messages).to.deep.equal([{ jsonrpc: "2.0", id: `ok-${echoes}`, result: { content: [{ type: "text", text }] } }]);
    expect(serverStatus(await fetchStatus(gateway.baseUrl), "faults/ok")?.ready).to.equal(true);
  }

  before(async () => {
    ok = await startUpstreamServer({ name: "ok" });
    fragile = await startUpstreamServer({ name: "fragile" });
    const servers: TestServer[] = [
      { name: "faults/ok", url: ok.url, prefix: "ok_" },
      { name: "faults/fragile", url: fragile.url, prefix: "fragile_" },
    ];
    for (const broken of BROKEN) {
      if (broken.mode === "nothing-listening") {
        servers.push({ name: broken.name, url: `http://127.0.0.1:${await freePort()}/mcp`, prefix: broken.prefix });
      } else {
        const raw = await startRawUpstream(broken.mode);
        raws.set(broken.name, raw);
        servers.push({ name: broken.name, url: raw.url, prefix: broken.prefix });
      }
    }
    for (const [name, mode, prefix] of [
      ["faults/old-protocol", "old-protocol", "old_"],
      ["faults/close-mid-stream", "close-mid-stream", "closer_"],
      ["faults/hang-calls", "hang-calls", "stall_"],
    ] as const) {
      const raw = await startRawUpstream(mode);
      raws.set(name, raw);
      servers.push({ name, url: raw.url, prefix });
    }
    gateway = await startGateway(registryYaml(servers), [
      "--discovery-timeout-seconds",
      String(DISCOVERY_TIMEOUT_MS / 1000),
      "--upstream-timeout-seconds",
      String(UPSTREAM_TIMEOUT_MS / 1000),
      "--retry-max-seconds",
      "1",
      "--refresh-interval-seconds",
      "30",
    ]);
    for (const name of ["faults/ok", "faults/fragile", "faults/old-protocol", "faults/close-mid-stream", "faults/hang-calls"]) {
      await settledStatus(name, (s) => s.ready);
    }
    for (const broken of BROKEN) firstFailure.set(broken.name, await settledStatus(broken.name));
    client = await connectClient(gateway.mcpUrl);
  });

  after(async () => {
    await client?.close();
    await gateway?.stop();
    await Promise.all([ok?.stop(), fragile?.stop(), ...[...raws.values()].map((raw) => raw.stop())]);
  });

  describe("(1) discovery of a broken upstream", function () {
    for (const broken of BROKEN) {
      it(`reports ${broken.mode} as NotReady with "${broken.message}" and lists none of its tools`, async () => {
        // The first settled status (seen in before()) and the current one, after a few retries with a
        // backoff capped at 1 s, say the same thing: the message is stable, not a flicker.
        expect(firstFailure.get(broken.name)).to.deep.include({ ready: false, message: broken.message, totalTools: 0 });
        expect(serverStatus(await fetchStatus(gateway.baseUrl), broken.name)).to.deep.include({ ready: false, message: broken.message, totalTools: 0 });
        if (broken.mode !== "nothing-listening") expect(raws.get(broken.name)?.requests()).to.be.greaterThan(0);

        const names = await toolNames();
        expect(names.filter((name) => name.startsWith(broken.prefix))).to.deep.equal([]);
        expect(names).to.include("ok_echo");
        const { sessionId } = await openRawSession(gateway.mcpUrl);
        const call = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: `call-${broken.prefix}`, method: "tools/call", params: { name: `${broken.prefix}echo`, arguments: {} } }, { "mcp-session-id": sessionId });
        expect(call.messages).to.deep.equal([{ jsonrpc: "2.0", id: `call-${broken.prefix}`, error: { code: -32602, message: `Unknown tool: ${broken.prefix}echo` } }]);
        await expectOkEchoStillWorks();
      });
    }

    it("counts only the servers that work as healthy", async () => {
      const status = await fetchStatus(gateway.baseUrl);
      const ready = status.servers.filter((s) => s.ready).map((s) => s.name).sort();
      expect(ready).to.include.members(["faults/ok", "faults/old-protocol", "faults/close-mid-stream", "faults/hang-calls"]);
      expect(ready.filter((name) => BROKEN.some((broken) => broken.name === name))).to.deep.equal([]);
      expect(status.healthyServers).to.equal(ready.length);
      await expectOkEchoStillWorks();
    });
  });

  describe("(2) an old-protocol upstream", function () {
    it("serves a 2025-03-26, stateless upstream without a GET stream under its prefix", async () => {
      const status = await settledStatus("faults/old-protocol", (s) => s.ready);
      expect(status).to.deep.include({ ready: true, totalTools: 1, message: "server added successfully. Total tools added 1" });
      expect((status as unknown as { protocolVersion?: string }).protocolVersion).to.equal("2025-03-26");
      const tools = (await client.client.listTools()).tools;
      const legacy = tools.find((tool) => tool.name === "old_legacy_echo");
      expect(legacy?.description).to.equal("Returns the text unchanged");
      expect(tools.map((tool) => tool.name)).to.not.include("legacy_echo");
      expect(textOf(await client.client.callTool({ name: "old_legacy_echo", arguments: { text: "from the past" } }))).to.equal("from the past");

      const { sessionId } = await openRawSession(gateway.mcpUrl);
      const res = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: "legacy-1", method: "tools/call", params: { name: "old_legacy_echo", arguments: { text: "raw" } } }, { "mcp-session-id": sessionId });
      expect(res.messages).to.deep.equal([{ jsonrpc: "2.0", id: "legacy-1", result: { content: [{ type: "text", text: "raw" }] } }]);
      await expectOkEchoStillWorks();
    });
  });

  describe("(3) an upstream that drops the connection in the middle of a call (close-mid-stream)", function () {
    const expectedError = (id: string | number): JsonRpcError => ({ jsonrpc: "2.0", id, error: { code: -32010, message: "upstream faults/close-mid-stream: connection closed" } });

    it("lists its tool", async () => {
      expect(await toolNames()).to.include("closer_boom");
      await expectOkEchoStillWorks();
    });

    it("relays the progress notification, then answers the call with an error carrying the request id (raw SSE)", async () => {
      const { sessionId } = await openRawSession(gateway.mcpUrl);
      const started = Date.now();
      const res = await postMcp(
        gateway.mcpUrl,
        { jsonrpc: "2.0", id: "boom-1", method: "tools/call", params: { name: "closer_boom", arguments: {}, _meta: { progressToken: "p-boom" } } },
        { "mcp-session-id": sessionId },
      );
      expect(Date.now() - started).to.be.lessThan(3_000);
      expect(res.status).to.equal(200);
      expect(res.headers.get("content-type")).to.match(/^text\/event-stream/);
      expect(res.messages).to.deep.equal([
        { jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: "p-boom", progress: 1 } },
        expectedError("boom-1"),
      ]);
      await expectOkEchoStillWorks();
    });

    it("does not relay progress the client did not ask for (no progressToken)", async () => {
      const { sessionId } = await openRawSession(gateway.mcpUrl);
      const res = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: "boom-2", method: "tools/call", params: { name: "closer_boom", arguments: {} } }, { "mcp-session-id": sessionId });
      expect(res.messages).to.deep.equal([expectedError("boom-2")]);
      await expectOkEchoStillWorks();
    });

    it("answers a JSON-only client with a plain JSON error carrying the request id", async () => {
      const { sessionId } = await openRawSession(gateway.mcpUrl);
      const res = await postMcp(
        gateway.mcpUrl,
        { jsonrpc: "2.0", id: 77, method: "tools/call", params: { name: "closer_boom", arguments: {}, _meta: { progressToken: 5 } } },
        { "mcp-session-id": sessionId, accept: "application/json" },
      );
      expect(res.status).to.equal(200);
      expect(res.headers.get("content-type")).to.match(/^application\/json/);
      expect(res.messages).to.deep.equal([expectedError(77)]);
      await expectOkEchoStillWorks();
    });

    it("gives an SDK client its progress callback first, then rejects the call", async () => {
      const events: string[] = [];
      const outcome = await client.client
        .callTool({ name: "closer_boom", arguments: {} }, undefined, { onprogress: (p) => events.push(`progress ${p.progress}`) })
        .then(
          () => "resolved",
          (err: { code?: number; message?: string }) => err,
        );
      events.push("settled");
      expect(events).to.deep.equal(["progress 1", "settled"]);
      expect(outcome).to.deep.include({ code: -32010 });
      expect((outcome as Error).message).to.include("upstream faults/close-mid-stream: connection closed");
      // The failed call made the gateway re-check the server; it still lists fine, so it stays served.
      await new Promise((r) => setTimeout(r, 300));
      expect(serverStatus(await fetchStatus(gateway.baseUrl), "faults/close-mid-stream")?.ready).to.equal(true);
      expect(await toolNames()).to.include("closer_boom");
      await expectOkEchoStillWorks();
    });
  });

  describe("(4) a server that was Ready and then went away", function () {
    it("answers calls to it at once with an error carrying the request id, then drops it", async () => {
      // One session already used the upstream (an upstream session is open), one only listed its tools.
      const used = await openRawSession(gateway.mcpUrl);
      const listedOnly = await openRawSession(gateway.mcpUrl);
      for (const { sessionId } of [used, listedOnly]) {
        const list = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: "list", method: "tools/list" }, { "mcp-session-id": sessionId });
        const names = (list.messages[0] as { result: { tools: Array<{ name: string }> } }).result.tools.map((tool) => tool.name);
        expect(names).to.include("fragile_echo");
      }
      const first = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: "before", method: "tools/call", params: { name: "fragile_echo", arguments: { text: "up" } } }, { "mcp-session-id": used.sessionId });
      expect(first.messages).to.deep.equal([{ jsonrpc: "2.0", id: "before", result: { content: [{ type: "text", text: "up" }] } }]);

      await fragile.stop();
      const started = Date.now();
      const answers = await Promise.all(
        [used, listedOnly].map(({ sessionId }, i) =>
          postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: `after-${i}`, method: "tools/call", params: { name: "fragile_echo", arguments: { text: "down?" } } }, { "mcp-session-id": sessionId }),
        ),
      );
      expect(Date.now() - started).to.be.lessThan(3_000);
      answers.forEach((res, i) => {
        expect(res.status).to.equal(200);
        expect(res.messages).to.have.length(1);
        const answer = res.messages[0] as JsonRpcError;
        expect(answer).to.have.property("error");
        expect(answer.id).to.equal(`after-${i}`);
        // Either the call raced discovery and reached the dead upstream, or discovery already dropped the tool.
        const reached = answer.error.code === -32010 && /^upstream faults\/fragile: (connection refused|connection closed|connection reset)$/.test(answer.error.message);
        const dropped = answer.error.code === -32602 && answer.error.message === "Unknown tool: fragile_echo";
        expect(reached || dropped, JSON.stringify(answer)).to.equal(true);
      });

      const down = await settledStatus("faults/fragile", (s) => !s.ready);
      expect(down).to.deep.include({ message: "connection refused", totalTools: 0 });
      expect((await toolNames()).filter((name) => name.startsWith("fragile_"))).to.deep.equal([]);
      await expectOkEchoStillWorks();
    });
  });

  describe("(5) an upstream that hangs calls (hang-calls)", function () {
    it("answers -32011 with the request id within the upstream timeout, without holding up other calls", async () => {
      expect(await toolNames()).to.include("stall_stall");
      const { sessionId } = await openRawSession(gateway.mcpUrl);
      const stall = raws.get("faults/hang-calls")!;
      const before = stall.requests();
      const started = Date.now();
      const hanging = postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: "stall-1", method: "tools/call", params: { name: "stall_stall", arguments: {} } }, { "mcp-session-id": sessionId }).then((res) => ({
        res,
        elapsed: Date.now() - started,
      }));
      // initialize, notifications/initialized (this session's first use of the server), then the call itself.
      await eventually(() => stall.requests() >= before + 3, 2_000, "the call to reach the hanging upstream");
      // While that call hangs, the same session and the healthy server answer at once.
      const quickStart = Date.now();
      const quick = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: "meanwhile", method: "tools/call", params: { name: "ok_echo", arguments: { text: "meanwhile" } } }, { "mcp-session-id": sessionId });
      expect(quick.messages).to.deep.equal([{ jsonrpc: "2.0", id: "meanwhile", result: { content: [{ type: "text", text: "meanwhile" }] } }]);
      expect(Date.now() - quickStart).to.be.lessThan(1_000);

      const { res, elapsed } = await hanging;
      expect(res.status).to.equal(200);
      expect(res.messages).to.deep.equal([{ jsonrpc: "2.0", id: "stall-1", error: { code: -32011, message: `upstream faults/hang-calls: timed out after ${UPSTREAM_TIMEOUT_MS} ms` } }]);
      expect(elapsed).to.be.within(UPSTREAM_TIMEOUT_MS - 100, UPSTREAM_TIMEOUT_MS + 1_500);
      // Giving up on the call, the gateway tells the upstream (notifications/cancelled is the fourth request).
      await eventually(() => stall.requests() === before + 4, 1_000, "notifications/cancelled to reach the upstream");
      // A slow call is not a sign of a dead server: it stays listed.
      expect(serverStatus(await fetchStatus(gateway.baseUrl), "faults/hang-calls")?.ready).to.equal(true);
      await expectOkEchoStillWorks();
    });
  });
});
