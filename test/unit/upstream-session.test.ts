// One upstream session in process, against the fixture MCP server (the SDK's, over Streamable HTTP
// on loopback) and against misbehaving raw upstreams: the handshake, shared and retried; ids of its
// own; messages passed on while a call runs; a transparent re-initialize after the upstream forgot
// the session; adoption without a handshake; timeouts and refusals; close.
import { expect } from "chai";
import type { JsonRpcId, JsonRpcMessage } from "../../internal/mcp/jsonrpc.js";
import { UpstreamProtocolError, UpstreamTimeoutError } from "../../internal/upstream/errors.js";
import { UpstreamHttp } from "../../internal/upstream/http.js";
import { RequestAbort } from "../../internal/upstream/request-abort.js";
import { UpstreamSession, type UpstreamSessionOptions, type UpstreamState } from "../../internal/upstream/session.js";
import { startRawUpstream } from "../fixtures/raw-upstream.js";
import { startUpstreamServer, type UpstreamServer } from "../fixtures/upstream-server.js";

const TIMEOUT = { timeoutMs: 2_000 };

describe("unit: UpstreamSession", () => {
  let upstream: UpstreamServer;
  const connector = () => new UpstreamHttp({ connectTimeoutMs: 1_000, firstByteTimeoutMs: 2_000, bodyTimeoutMs: 2_000, maxResponseBytes: 1_000_000 });
  const http = connector();
  const sessions: UpstreamSession[] = [];

  function session(url: string, options: Partial<UpstreamSessionOptions> = {}, via: UpstreamHttp = http): UpstreamSession {
    const created = new UpstreamSession(via, {
      target: { url, headers: {} },
      protocolVersion: "2025-06-18",
      clientInfo: { name: "unit-test", version: "1.0.0" },
      capabilities: {},
      ...options,
    });
    sessions.push(created);
    return created;
  }

  before(async () => {
    upstream = await startUpstreamServer({ name: "unit" });
  });
  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close().catch(() => undefined)));
  });
  after(async () => {
    await upstream.stop();
    await http.destroy();
  });

  it("initializes once for concurrent callers, negotiates the version and tells onOpened", async () => {
    const opened: UpstreamState[] = [];
    const before = upstream.sessionsOpened();
    const s = session(upstream.url, { onOpened: (state) => opened.push(state) });
    expect(s.state(), "nothing before the handshake").to.equal(undefined);
    const answers = await Promise.all([1, 2, 3].map(() => s.request("tools/list", undefined, TIMEOUT)));
    expect(upstream.sessionsOpened() - before, "one handshake").to.equal(1);
    for (const answer of answers) expect("result" in answer && (answer.result.tools as Array<{ name: string }>).map((t) => t.name)).to.include("echo");
    expect(s.protocolVersion).to.equal("2025-06-18");
    expect(s.sessionId).to.be.a("string");
    expect(s.initializeResult?.serverInfo?.name).to.equal("unit");
    expect(opened).to.deep.equal([s.state()]);
    expect(upstream.methodsSeen().slice(-5, -3)).to.deep.equal(["initialize", "notifications/initialized"]);
    expect(s.pending).to.equal(0);
  });

  it("numbers requests with ids of its own, handed over before the answer", async () => {
    const s = session(upstream.url);
    const ids: JsonRpcId[] = [];
    const first = await s.request("ping", undefined, { ...TIMEOUT, onUpstreamId: (id) => ids.push(id) });
    await s.request("ping", undefined, { ...TIMEOUT, onUpstreamId: (id) => ids.push(id) });
    expect(ids).to.have.length(2);
    expect(ids[1]).to.equal((ids[0] as number) + 1);
    expect(first.id).to.equal(ids[0]);
  });

  it("passes on the upstream's notifications while a call runs, before its response", async () => {
    const s = session(upstream.url);
    const seen: JsonRpcMessage[] = [];
    const answer = await s.request("tools/call", { name: "slow", arguments: { steps: 2, delayMs: 1 }, _meta: { progressToken: "p" } }, { ...TIMEOUT, onMessage: (m) => seen.push(m) });
    expect(seen.map((m) => ("method" in m ? m.method : "?"))).to.deep.equal(["notifications/progress", "notifications/progress"]);
    expect("result" in answer && answer.result.content).to.deep.equal([{ type: "text", text: "done after 2 steps" }]);
  });

  it("re-initializes once, transparently, when the upstream came back without the session", async () => {
    // A connector of its own: its one kept-alive connection dies with the upstream, and the request
    // made while the upstream is down finds that out.
    const own = connector();
    try {
      const opened: UpstreamState[] = [];
      const s = session(upstream.url, { onOpened: (state) => opened.push(state) }, own);
      await s.request("ping", undefined, TIMEOUT);
      const firstSession = s.sessionId;
      await upstream.stop();
      let down: unknown;
      await s.request("ping", undefined, TIMEOUT).catch((err: unknown) => (down = err));
      expect(down, "the request while the upstream is down fails").to.be.instanceOf(Error);
      await upstream.restart();
      const answers = await Promise.all([1, 2].map(() => s.request("ping", undefined, TIMEOUT)));
      expect(answers.every((answer) => "result" in answer)).to.equal(true);
      expect(s.sessionId).to.be.a("string").and.not.equal(firstSession);
      expect(opened.map((state) => state.sessionId)).to.deep.equal([firstSession, s.sessionId]);
    } finally {
      await own.destroy();
    }
  });

  it("runs afterInitialize inside the handshake, before the first request goes out", async () => {
    const s = session(upstream.url, {
      afterInitialize: async (send) => {
        await send("logging/setLevel", { level: "error" });
      },
    });
    const answer = await s.request("tools/call", { name: "whoami", arguments: {} }, TIMEOUT);
    const text = "result" in answer ? (answer.result.content as Array<{ text: string }>)[0]?.text : "";
    expect(JSON.parse(text ?? "{}")).to.include({ logLevel: "error", server: "unit" });
  });

  it("adopts another replica's upstream session without a handshake", async () => {
    const first = session(upstream.url);
    await first.request("ping", undefined, TIMEOUT);
    const before = upstream.sessionsOpened();
    const adopted = session(upstream.url, { adopt: first.state() });
    const answer = await adopted.request("tools/call", { name: "whoami", arguments: {} }, TIMEOUT);
    expect(upstream.sessionsOpened()).to.equal(before);
    const text = "result" in answer ? (answer.result.content as Array<{ text: string }>)[0]?.text : "";
    expect(JSON.parse(text ?? "{}")).to.include({ sessionId: first.sessionId });
  });

  it("sends the client's Authorization of the request being served, never a stored one", async () => {
    const s = session(upstream.url);
    const whoami = async (authorization?: string) => {
      const answer = await s.request("tools/call", { name: "whoami", arguments: {} }, { ...TIMEOUT, authorization });
      return (JSON.parse("result" in answer ? ((answer.result.content as Array<{ text: string }>)[0]?.text ?? "{}") : "{}") as { authorization: string | null }).authorization;
    };
    expect(await whoami("Bearer client-token")).to.equal("Bearer client-token");
    expect(await whoami(), "the next request without one carries none").to.equal(null);
  });

  it("a request that outlives its timeout fails with UpstreamTimeoutError; the caller's abort stops it, also one aborted before it went out", async () => {
    const s = session(upstream.url);
    const slow = { name: "slow", arguments: { steps: 1, delayMs: 2_000 } };
    let timedOut: unknown;
    await s.request("tools/call", slow, { timeoutMs: 100 }).catch((err: unknown) => (timedOut = err));
    expect(timedOut).to.be.instanceOf(UpstreamTimeoutError);
    expect((timedOut as Error).message).to.equal("timed out after 100 ms");
    const outcome = (abort: RequestAbort) =>
      s.request("tools/call", slow, { ...TIMEOUT, abort }).then(
        () => "answered",
        (err: unknown) => (err instanceof UpstreamTimeoutError ? "timeout" : "aborted"),
      );
    const caller = new RequestAbort();
    const aborted = outcome(caller);
    setTimeout(() => caller.abort(), 50);
    expect(await aborted).to.equal("aborted");
    const early = new RequestAbort();
    early.abort();
    expect(await outcome(early)).to.equal("aborted");
  });

  it("close() ends the upstream session; afterwards requests are refused", async () => {
    const s = session(upstream.url);
    await s.request("ping", undefined, TIMEOUT);
    const open = upstream.openSessions();
    await s.close();
    expect(upstream.openSessions()).to.equal(open - 1);
    let refused: unknown;
    await s.request("ping", undefined, TIMEOUT).catch((err: unknown) => (refused = err));
    expect(refused).to.be.instanceOf(UpstreamProtocolError);
    expect((refused as Error).message).to.equal("upstream session closed");
  });

  it("a handshake the upstream gets wrong fails, ends the session it opened, and is tried again by the next caller", async () => {
    for (const [mode, message] of [
      ["unsupported-version", /^unsupported protocol version "1999-01-01"$/],
      ["client-no-capabilities", /^initialize result has no capabilities$/],
    ] as const) {
      const raw = await startRawUpstream(mode);
      try {
        const s = session(raw.url);
        for (const attempt of [1, 2]) {
          let failed: unknown;
          await s.request("ping", undefined, TIMEOUT).catch((err: unknown) => (failed = err));
          expect(failed, `${mode}, attempt ${attempt}`).to.be.instanceOf(UpstreamProtocolError);
          expect((failed as Error).message).to.match(message);
        }
        expect(raw.sessionClients(), `${mode}: no session left open upstream`).to.deep.equal([]);
      } finally {
        await raw.stop();
      }
    }
  });
});
