// Bad upstreams next to a healthy one (prefix ok_). Each fault shows up in /status or in a JSON-RPC error
// whose message says what went wrong; answers carry the request's id and come in bounded time; bystander
// sessions calling the healthy upstream throughout are unaffected; and once the sessions are DELETEd no
// upstream holds a session for them (counted on every fixture that can count). On SIGTERM the broker ends
// every upstream session it holds.
import { expect } from "chai";
import { startRawUpstream, type ClientHandshakeFault, type RawMode, type RawUpstream } from "../fixtures/raw-upstream.js";
import { startUpstreamServer, type UpstreamServer } from "../fixtures/upstream-server.js";
import { clientSessions, discoverySessions, HEALTHY_SERVER, startFaultGateway, textResult, toolCall, type FaultGateway, type FaultyServer } from "../helpers/fault-harness.js";
import { eventually, freePort } from "../helpers/gateway-process.js";
import { textOf } from "../helpers/mcp-client.js";
import { fetchStatus, registryYaml, serverStatus, type StatusDocument } from "../helpers/registry.js";

const DISCOVERY_TIMEOUT_MS = 1_000;
const UPSTREAM_TIMEOUT_MS = 2_000;
const MAX_RESPONSE_BYTES = 65_536;
/**
 * The most one socket read hands the gateway. It checks an SSE event's size after each read, so an event
 * may pass the limit by up to this much before it counts as too large.
 */
const SOCKET_READ_BYTES = 65_536;
/** How long the slow-handshake fixture takes to answer initialize. */
const SLOW_HANDSHAKE_MS = 700;

/** Upstreams that never get through discovery, and the /status message each must produce. */
const BROKEN: Array<{ name: string; prefix: string; mode: RawMode | "nothing-listening"; message: string }> = [
  { name: "faults/refused", prefix: "refused_", mode: "nothing-listening", message: "connection refused" },
  { name: "faults/http-500", prefix: "h500_", mode: "http-500", message: "HTTP 500: boom" },
  { name: "faults/garbage", prefix: "garbage_", mode: "garbage", message: 'invalid response: not JSON ("this is not json{")' },
  { name: "faults/hang", prefix: "hang_", mode: "hang", message: `timed out after ${DISCOVERY_TIMEOUT_MS} ms` },
  { name: "faults/non-mcp-json", prefix: "nonmcp_", mode: "non-mcp-json", message: 'invalid response: jsonrpc must be "2.0"' },
  { name: "faults/unsupported-version", prefix: "ancient_", mode: "unsupported-version", message: 'unsupported protocol version "1999-01-01"' },
];

/**
 * Upstreams that pass discovery but break the handshake of every session opened for a client, after giving
 * it a session id; and the error each call to them gets.
 */
const HANDSHAKE_FAULTS: Array<{ name: string; prefix: string; mode: ClientHandshakeFault; error: { code: number; message: string } }> = [
  { name: "faults/initialized-500", prefix: "init500_", mode: "client-initialized-500", error: { code: -32010, message: "upstream faults/initialized-500: HTTP 500: initialized refused" } },
  { name: "faults/no-capabilities", prefix: "nocaps_", mode: "client-no-capabilities", error: { code: -32010, message: "upstream faults/no-capabilities: initialize result has no capabilities" } },
  { name: "faults/initialize-stall", prefix: "initstall_", mode: "client-initialize-stall", error: { code: -32011, message: `upstream faults/initialize-stall: timed out after ${UPSTREAM_TIMEOUT_MS} ms` } },
];

/** Upstreams that pass discovery; the stateful ones count their sessions. */
const SERVING: Array<{ name: string; prefix: string; mode: RawMode }> = [
  { name: "faults/old-protocol", prefix: "old_", mode: "old-protocol" },
  { name: "faults/close-mid-stream", prefix: "closer_", mode: "close-mid-stream" },
  { name: "faults/hang-calls", prefix: "stall_", mode: "hang-calls" },
  { name: "faults/call-faults", prefix: "bad_", mode: "call-faults" },
  ...HANDSHAKE_FAULTS,
];

describe("upstream faults: bad upstreams get clear errors, hurt nobody else and leak no upstream session", function () {
  this.timeout(30_000);
  let harness: FaultGateway;
  let fragile: UpstreamServer;
  let phoenix: UpstreamServer;
  const raws = new Map<string, RawUpstream>();
  const firstFailure = new Map<string, StatusDocument["servers"][number]>();

  const post = (sessionId: string, body: unknown, headers: Record<string, string> = {}) => harness.sessions.post(sessionId, body, headers);

  const toolNames = () => harness.sessions.toolNames();

  /** Calls a HANDSHAKE_FAULTS server's tool `calls` times in one session: each call tries a handshake of its own, which fails. */
  async function expectFailedHandshakes(sessionId: string, fault: (typeof HANDSHAKE_FAULTS)[number], calls: number) {
    for (let i = 0; i < calls; i++) {
      const id = `${fault.prefix}${i}`;
      const res = await post(sessionId, toolCall(id, `${fault.prefix}echo`));
      expect(res.messages, fault.name).to.deep.equal([{ jsonrpc: "2.0", id, error: fault.error }]);
    }
  }

  async function status(name: string) {
    return serverStatus(await fetchStatus(harness.gateway.baseUrl), name);
  }

  /** Waits until discovery of a server settled (ready, or failed with a reason) and returns its status. */
  function settledStatus(name: string, predicate: (s: { ready: boolean; message: string }) => boolean = (s) => s.message !== "connecting") {
    return eventually(async () => {
      const current = await status(name);
      return current && predicate(current) ? current : undefined;
    }, 8_000, `status of ${name}`);
  }

  before(async () => {
    fragile = await startUpstreamServer({ name: "fragile" });
    phoenix = await startUpstreamServer({ name: "phoenix" });
    const servers: FaultyServer[] = [
      { name: "faults/fragile", url: fragile.url, prefix: "fragile_", counted: fragile },
      { name: "faults/phoenix", url: phoenix.url, prefix: "phoenix_", counted: phoenix },
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
    for (const { name, mode, prefix } of SERVING) {
      const raw = await startRawUpstream(mode);
      raws.set(name, raw);
      servers.push({ name, url: raw.url, prefix, counted: mode === "old-protocol" ? undefined : raw });
    }
    harness = await startFaultGateway(servers, [
      "--discovery-timeout-seconds",
      String(DISCOVERY_TIMEOUT_MS / 1000),
      "--upstream-timeout-seconds",
      String(UPSTREAM_TIMEOUT_MS / 1000),
      "--retry-max-seconds",
      "1",
      "--refresh-interval-seconds",
      "30",
      "--max-response-bytes",
      String(MAX_RESPONSE_BYTES),
    ]);
    for (const name of ["faults/fragile", "faults/phoenix", ...SERVING.map((s) => s.name)]) await settledStatus(name, (s) => s.ready);
    for (const broken of BROKEN) firstFailure.set(broken.name, await settledStatus(broken.name));
  });

  after(async () => {
    await harness?.stop();
    await Promise.all([fragile?.stop(), phoenix?.stop(), ...[...raws.values()].map((raw) => raw.stop())]);
  });

  describe("(1) discovery of a broken upstream", function () {
    for (const broken of BROKEN) {
      it(`reports ${broken.mode} as NotReady with "${broken.message}" and lists none of its tools`, () =>
        harness.isolated(async () => {
          // The first settled status (seen in before()) and the current one, after a few retries with a
          // backoff capped at 1 s, say the same thing: the message is stable, not a flicker.
          expect(firstFailure.get(broken.name)).to.deep.include({ ready: false, message: broken.message, totalTools: 0 });
          expect(await status(broken.name)).to.deep.include({ ready: false, message: broken.message, totalTools: 0 });
          if (broken.mode !== "nothing-listening") expect(raws.get(broken.name)?.requests()).to.be.greaterThan(0);

          const names = await toolNames();
          expect(names.filter((name) => name.startsWith(broken.prefix))).to.deep.equal([]);
          expect(names).to.include("ok_echo");
          const call = await post(await harness.sessions.open(), toolCall(`call-${broken.prefix}`, `${broken.prefix}echo`));
          expect(call.messages).to.deep.equal([{ jsonrpc: "2.0", id: `call-${broken.prefix}`, error: { code: -32602, message: `Unknown tool: ${broken.prefix}echo` } }]);
        }));
    }

    it("counts only the servers that work as healthy", () =>
      harness.isolated(async () => {
        const current = await fetchStatus(harness.gateway.baseUrl);
        const ready = current.servers.filter((s) => s.ready).map((s) => s.name).sort();
        expect(ready).to.include.members([HEALTHY_SERVER, ...SERVING.map((s) => s.name)]);
        expect(ready.filter((name) => BROKEN.some((broken) => broken.name === name))).to.deep.equal([]);
        expect(current.healthyServers).to.equal(ready.length);
      }));
  });

  describe("(2) an old-protocol upstream", function () {
    it("serves a 2025-03-26, stateless upstream without a GET stream under its prefix", () =>
      harness.isolated(async () => {
        const current = await settledStatus("faults/old-protocol", (s) => s.ready);
        expect(current).to.deep.include({ ready: true, totalTools: 1, message: "server added successfully. Total tools added 1" });
        expect((current as unknown as { protocolVersion?: string }).protocolVersion).to.equal("2025-03-26");
        const client = await harness.sessions.connect();
        const tools = (await client.client.listTools()).tools;
        expect(tools.find((tool) => tool.name === "old_legacy_echo")?.description).to.equal("Returns the text unchanged");
        expect(tools.map((tool) => tool.name)).to.not.include("legacy_echo");
        expect(textOf(await client.client.callTool({ name: "old_legacy_echo", arguments: { text: "from the past" } }))).to.equal("from the past");

        const res = await post(await harness.sessions.open(), toolCall("legacy-1", "old_legacy_echo", { text: "raw" }));
        expect(res.messages).to.deep.equal([textResult("legacy-1", "raw")]);
      }));
  });

  describe("(3) an upstream that drops the connection in the middle of a call (close-mid-stream)", function () {
    const expectedError = (id: string | number) => ({ jsonrpc: "2.0", id, error: { code: -32010, message: "upstream faults/close-mid-stream: connection closed" } });

    it("relays the progress notification, then answers the call with an error carrying the request id (raw SSE)", () =>
      harness.isolated(async () => {
        expect(await toolNames()).to.include("closer_boom");
        const started = Date.now();
        const res = await post(await harness.sessions.open(), toolCall("boom-1", "closer_boom", {}, { progressToken: "p-boom" }));
        expect(Date.now() - started).to.be.lessThan(3_000);
        expect(res.status).to.equal(200);
        expect(res.headers.get("content-type")).to.match(/^text\/event-stream/);
        expect(res.messages).to.deep.equal([{ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: "p-boom", progress: 1 } }, expectedError("boom-1")]);
        // The session's upstream session outlives the dropped call, until the DELETE at the end.
        expect(clientSessions(raws.get("faults/close-mid-stream")!)).to.equal(1);
      }));

    it("does not relay progress the client did not ask for (no progressToken)", () =>
      harness.isolated(async () => {
        const res = await post(await harness.sessions.open(), toolCall("boom-2", "closer_boom"));
        expect(res.messages).to.deep.equal([expectedError("boom-2")]);
      }));

    it("answers a JSON-only client with a plain JSON error carrying the request id", () =>
      harness.isolated(async () => {
        const res = await post(await harness.sessions.open(), toolCall(77, "closer_boom", {}, { progressToken: 5 }), { accept: "application/json" });
        expect(res.status).to.equal(200);
        expect(res.headers.get("content-type")).to.match(/^application\/json/);
        expect(res.messages).to.deep.equal([expectedError(77)]);
      }));

    it("gives an SDK client its progress callback first, then rejects the call", () =>
      harness.isolated(async () => {
        const client = await harness.sessions.connect();
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
        expect((await status("faults/close-mid-stream"))?.ready).to.equal(true);
        expect(await toolNames()).to.include("closer_boom");
      }));
  });

  describe("(4) an upstream that answers a call with garbage, non-MCP JSON or more than --max-response-bytes (in JSON or one SSE event)", function () {
    const cases = [
      { fault: "garbage", tool: "bad_garbage", args: {}, reason: 'invalid response: not JSON ("this is not json{")' },
      { fault: "non-MCP JSON", tool: "bad_not_mcp", args: {}, reason: 'invalid response: jsonrpc must be "2.0"' },
      { fault: "a huge response", tool: "bad_sized", args: { bytes: MAX_RESPONSE_BYTES }, reason: `response larger than ${MAX_RESPONSE_BYTES} bytes` },
      { fault: "a huge SSE event", tool: "bad_sized_sse", args: { bytes: MAX_RESPONSE_BYTES + SOCKET_READ_BYTES }, reason: `SSE event larger than ${MAX_RESPONSE_BYTES} bytes` },
      { fault: "an SSE event that never ends", tool: "bad_endless_sse", args: {}, reason: `SSE event larger than ${MAX_RESPONSE_BYTES} bytes` },
    ];
    for (const { fault, tool, args, reason } of cases) {
      it(`answers ${fault} with -32010 and the request id; the same upstream session serves the next call`, () =>
        harness.isolated(async () => {
          const sessionId = await harness.sessions.open();
          const started = performance.now();
          const res = await post(sessionId, toolCall("fault-1", tool, args));
          // Long before the upstream timeout: the gateway stops reading at the fault, not when the upstream stops sending.
          expect(performance.now() - started).to.be.lessThan(UPSTREAM_TIMEOUT_MS / 2);
          expect(res.status).to.equal(200);
          expect(res.messages).to.deep.equal([{ jsonrpc: "2.0", id: "fault-1", error: { code: -32010, message: `upstream faults/call-faults: ${reason}` } }]);
          const next = await post(sessionId, toolCall("after-1", "bad_echo", { text: "still here" }));
          expect(next.messages).to.deep.equal([textResult("after-1", "still here")]);
          expect(clientSessions(raws.get("faults/call-faults")!)).to.equal(1);
          // One bad answer is not a dead server: the re-check it triggered lists fine.
          await new Promise((r) => setTimeout(r, 300));
          expect((await status("faults/call-faults"))?.ready).to.equal(true);
          expect((await fetch(`${harness.gateway.baseUrl}/healthz`)).status).to.equal(200);
        }));
    }

    it("relays a JSON answer just under --max-response-bytes intact", () =>
      harness.isolated(async () => {
        const bytes = MAX_RESPONSE_BYTES - 1_000;
        const res = await post(await harness.sessions.open(), toolCall("big-1", "bad_sized", { bytes }));
        expect(res.messages).to.deep.equal([textResult("big-1", "x".repeat(bytes))]);
      }));

    it("relays SSE events each just under --max-response-bytes intact, however much they add up to", () =>
      harness.isolated(async () => {
        const text = "x".repeat(MAX_RESPONSE_BYTES - 1_000);
        const res = await post(await harness.sessions.open(), toolCall("big-2", "bad_sized_sse", { bytes: text.length }, { progressToken: "p-big" }));
        expect(res.messages).to.deep.equal([{ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: "p-big", progress: 1, message: text } }, textResult("big-2", text)]);
      }));
  });

  describe("(5) a server that was Ready and then went away (connection refused)", function () {
    it("answers calls to it at once with an error carrying the request id, then drops it", () =>
      harness.isolated(async () => {
        // One session already used the upstream (an upstream session is open), one only listed its tools.
        const used = await harness.sessions.open();
        const listedOnly = await harness.sessions.open();
        for (const sessionId of [used, listedOnly]) {
          expect(await harness.sessions.toolNames(sessionId)).to.include("fragile_echo");
        }
        const first = await post(used, toolCall("before", "fragile_echo", { text: "up" }));
        expect(first.messages).to.deep.equal([textResult("before", "up")]);
        expect(clientSessions(fragile)).to.equal(1);

        await fragile.stop();
        const started = Date.now();
        const answers = await Promise.all([used, listedOnly].map((sessionId, i) => post(sessionId, toolCall(`after-${i}`, "fragile_echo", { text: "down?" }))));
        expect(Date.now() - started).to.be.lessThan(3_000);
        answers.forEach((res, i) => {
          expect(res.status).to.equal(200);
          expect(res.messages).to.have.length(1);
          const answer = res.messages[0] as { id: string; error: { code: number; message: string } };
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
      }));
  });

  describe("(6) an upstream that hangs calls (hang-calls)", function () {
    it("answers -32011 with the request id within the upstream timeout, without holding up other calls", () =>
      harness.isolated(async () => {
        expect(await toolNames()).to.include("stall_stall");
        const sessionId = await harness.sessions.open();
        const stall = raws.get("faults/hang-calls")!;
        const before = stall.requests();
        const started = Date.now();
        const hanging = post(sessionId, toolCall("stall-1", "stall_stall")).then((res) => ({ res, elapsed: Date.now() - started }));
        // initialize, notifications/initialized (this session's first use of the server), then the call itself.
        await eventually(() => stall.requests() >= before + 3, 2_000, "the call to reach the hanging upstream");
        // While that call hangs, the same session answers at once (the bystanders show the same for others).
        const quickStart = Date.now();
        const quick = await post(sessionId, toolCall("meanwhile", "ok_echo", { text: "meanwhile" }));
        expect(quick.messages).to.deep.equal([textResult("meanwhile", "meanwhile")]);
        expect(Date.now() - quickStart).to.be.lessThan(1_000);

        const { res, elapsed } = await hanging;
        expect(res.status).to.equal(200);
        expect(res.messages).to.deep.equal([{ jsonrpc: "2.0", id: "stall-1", error: { code: -32011, message: `upstream faults/hang-calls: timed out after ${UPSTREAM_TIMEOUT_MS} ms` } }]);
        expect(elapsed).to.be.within(UPSTREAM_TIMEOUT_MS - 100, UPSTREAM_TIMEOUT_MS + 1_500);
        // Giving up on the call, the gateway tells the upstream (notifications/cancelled is the fourth request).
        await eventually(() => stall.requests() === before + 4, 1_000, "notifications/cancelled to reach the upstream");
        // A slow call is not a sign of a dead server: it stays listed.
        expect((await status("faults/hang-calls"))?.ready).to.equal(true);
        expect(clientSessions(stall)).to.equal(1);
      }));
  });

  describe("(7) an upstream that restarts and forgets its sessions (they 404)", function () {
    it("re-initializes each gateway session's upstream session once, transparently", () =>
      harness.isolated(async () => {
        const users = [await harness.sessions.open(), await harness.sessions.open()];
        for (const [i, sessionId] of users.entries()) {
          expect((await post(sessionId, toolCall(`before-${i}`, "phoenix_echo", { text: "before" }))).messages).to.deep.equal([textResult(`before-${i}`, "before")]);
        }
        expect(clientSessions(phoenix)).to.equal(2);

        await phoenix.stop();
        await phoenix.restart();
        expect(clientSessions(phoenix), "sessions the restart forgot").to.equal(0);
        // Discovery notices on its own (its GET stream dropped); once it is back the calls meet a served tool.
        await eventually(async () => discoverySessions(phoenix) === 1 && (await status("faults/phoenix"))?.ready, 8_000, "discovery of the restarted upstream");
        for (const [i, sessionId] of users.entries()) {
          expect((await post(sessionId, toolCall(`after-${i}`, "phoenix_echo", { text: "after" }))).messages).to.deep.equal([textResult(`after-${i}`, "after")]);
        }
        // One new upstream session per gateway session that used it: the stale ones were replaced, not added to.
        expect(clientSessions(phoenix)).to.equal(2);
      }));
  });

  describe("(8) a server dropped from the registry in the middle of its discovery handshake", function () {
    it("ends the session the upstream opened for discovery once the late initialize answer arrives", () =>
      harness.isolated(async () => {
        const slow = await startRawUpstream("slow-handshake");
        raws.set("faults/slow-handshake", slow);
        harness.gateway.writeConfig(registryYaml([...harness.servers, { name: "faults/slow-handshake", url: slow.url, prefix: "slow_" }]));
        const arrived = await eventually(() => slow.sessionClients().length === 1 && performance.now(), 3_000, "discovery's initialize to arrive");
        harness.gateway.writeConfig(registryYaml(harness.servers));
        await eventually(async () => !(await status("faults/slow-handshake")), 3_000, "the server to leave the registry");
        // Else the handshake was over before the server left, and this test would show nothing.
        expect(performance.now() - arrived).to.be.lessThan(SLOW_HANDSHAKE_MS);
        await eventually(() => slow.sessionClients().length === 0, 3_000, "discovery's session to be ended");
      }));
  });

  describe("(9) an upstream whose handshake with a client's session fails after it issued the session id", function () {
    for (const fault of HANDSHAKE_FAULTS) {
      it(`answers each call to ${fault.mode} with ${fault.error.code} and the request id, and ends each upstream session its handshake opened`, () =>
        harness.isolated(async () => {
          const upstream = raws.get(fault.name)!;
          // Several calls in one session: a leak would be each handshake's session but the last, which the
          // session's DELETE still knows about.
          await expectFailedHandshakes(await harness.sessions.open(), fault, 3);
          expect(clientSessions(upstream), "upstream sessions left open").to.equal(0);
          expect(discoverySessions(upstream)).to.equal(1);
        }));
    }
  });

  describe("(10) shutdown", function () {
    it("on SIGTERM ends every upstream session, discovery's included, even with a call in flight", async () => {
      const sessionId = await harness.sessions.open();
      for (const tool of ["ok_echo", "phoenix_echo", "bad_echo"]) {
        expect((await post(sessionId, toolCall(tool, tool, { text: "open" }))).messages).to.deep.equal([textResult(tool, "open")]);
      }
      const closer = await post(sessionId, toolCall("boom", "closer_boom"));
      expect(closer.messages).to.have.length(1);
      // Failed handshakes leave nothing for SIGTERM to miss: each ended the upstream session it opened.
      await expectFailedHandshakes(sessionId, HANDSHAKE_FAULTS.find((fault) => fault.mode === "client-initialized-500")!, 2);
      const stall = raws.get("faults/hang-calls")!;
      const inFlight = post(sessionId, toolCall("stall", "stall_stall")).then(
        (res) => `answered ${res.status}`,
        (err: unknown) => `failed: ${String(err)}`,
      );
      await eventually(() => clientSessions(stall) === 1, 2_000, "the hanging call's upstream session");
      for (const name of [HEALTHY_SERVER, "faults/phoenix", "faults/call-faults", "faults/close-mid-stream", "faults/hang-calls"]) {
        const upstream = harness.counted.get(name)!;
        expect([name, clientSessions(upstream), discoverySessions(upstream)]).to.deep.equal([name, 1, 1]);
      }

      await harness.stopExpectNoSessions();
      // The call in flight ends with the gateway instead of hanging on.
      expect(await Promise.race([inFlight, new Promise((r) => setTimeout(() => r("still pending"), 1_000))])).to.match(/^(answered|failed)/);
    });
  });
});
