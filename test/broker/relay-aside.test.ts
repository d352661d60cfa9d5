// Requests an upstream sends outside the call they serve (server.request() without a related
// request, as the conformance suite's reference server does): they reach the gateway on the
// upstream session's GET stream, which the gateway holds open for a client that declared it can
// answer them, and go to the client on the call's stream or the client's GET stream.
import { expect } from "chai";
import { startUpstreamServer, type UpstreamServer } from "../fixtures/upstream-server.js";
import { eventually, startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { openRawSession, postMcp, streamingPost } from "../helpers/http.js";
import { connectClient, textOf, type TestClient } from "../helpers/mcp-client.js";
import { fetchStatus, registryYaml } from "../helpers/registry.js";

const SAMPLING = { sampling: {} };
/** The clientInfo name of connectClient's sessions, which the gateway passes upstream. */
const CLIENT = "gateway-test";

interface RawSession {
  headers: Record<string, string>;
  call(id: number, name: string, args: Record<string, unknown>): Promise<string>;
  end(): Promise<void>;
}

/** A session over raw HTTP: no GET stream, unless the test opens one. */
async function rawSession(mcpUrl: string, capabilities: Record<string, unknown>): Promise<RawSession> {
  const { sessionId, protocolVersion } = await openRawSession(mcpUrl, "2025-06-18", {}, capabilities);
  const headers = { "mcp-session-id": sessionId, "mcp-protocol-version": protocolVersion };
  return {
    headers,
    async call(id, name, args) {
      const res = await postMcp(mcpUrl, { jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } }, headers);
      const answer = res.messages.find((m) => (m as { id?: unknown }).id === id) as { result?: unknown } | undefined;
      if (!answer?.result) throw new Error(`tools/call ${name} failed: ${res.text}`);
      return textOf(answer.result);
    },
    async end() {
      await fetch(mcpUrl, { method: "DELETE", headers }).then((res) => res.text());
    },
  };
}

/** The fixture upstream `alpha` behind a gateway started with `args`, for the describe block that calls it. */
function alphaBehindGateway(args: string[] = []): { alpha: UpstreamServer; gateway: GatewayProcess } {
  const peers = {} as { alpha: UpstreamServer; gateway: GatewayProcess };
  before(async () => {
    peers.alpha = await startUpstreamServer({ name: "alpha" });
    peers.gateway = await startGateway(registryYaml([{ name: "ns/alpha", url: peers.alpha.url, prefix: "a_" }]), args);
    await eventually(async () => (await fetchStatus(peers.gateway.baseUrl)).healthyServers === 1, 10_000, "alpha ready");
  });
  after(async () => {
    await peers.gateway?.stop();
    await peers.alpha?.stop();
  });
  return peers;
}

describe("relay: requests an upstream sends outside a call", function () {
  this.timeout(30_000);
  const peers = alphaBehindGateway();

  it("opens no upstream GET stream for a client that cannot answer them", async () => {
    const streams = peers.alpha.getStreams();
    const session = await rawSession(peers.gateway.mcpUrl, {});
    expect(await session.call(2, "a_echo", { text: "plain" })).to.equal("plain");
    expect(peers.alpha.getStreams()).to.equal(streams);
    await session.end();
  });

  it("goes on the call's stream when that call is the only one there: a client without a GET stream answers it", async () => {
    const streams = peers.alpha.getStreams();
    const session = await rawSession(peers.gateway.mcpUrl, SAMPLING);
    const call = await streamingPost(peers.gateway.mcpUrl, { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "a_sample_aside", arguments: { prompt: "on the call" } } }, session.headers, new AbortController());
    // The upstream session's GET stream was open before the call went out.
    expect(peers.alpha.getStreams()).to.equal(streams + 1);
    const request = await call.next((m) => m.method === "sampling/createMessage");
    const answer = { role: "assistant", model: "test-model", content: { type: "text", text: "answered on the call" } };
    expect((await postMcp(peers.gateway.mcpUrl, { jsonrpc: "2.0", id: request.id, result: answer }, session.headers)).status).to.equal(202);
    const response = await call.next((m) => m.id === 2);
    expect(textOf(response.result)).to.equal("answered on the call");
    await session.end();
    await eventually(() => peers.alpha.getStreams() === streams, 5_000, "the upstream GET stream closed with the session");
  });

  it("goes on the client's GET stream when no call is in flight", async () => {
    const client = await connectClient(peers.gateway.mcpUrl);
    try {
      expect(textOf(await client.client.callTool({ name: "a_sample_aside", arguments: { prompt: "later", afterMs: 50 } }))).to.equal("asking later");
      await eventually(() => peers.alpha.asideOutcomes().includes("sampled: later"), 5_000, "the late request answered");
      expect(client.requests).to.include("sampling/createMessage");
    } finally {
      await client.close();
    }
  });

  it("is answered with an error at once when the client has no GET stream and no call is in flight", async () => {
    const session = await rawSession(peers.gateway.mcpUrl, SAMPLING);
    const outcomes = peers.alpha.asideOutcomes().length;
    expect(await session.call(2, "a_sample_aside", { prompt: "nobody hears", afterMs: 50 })).to.equal("asking later");
    // The upstream's own timeout is 60 s: an answer within 3 s came from the peers.gateway.
    await eventually(() => peers.alpha.asideOutcomes().length > outcomes, 3_000, "the upstream answered");
    expect(peers.alpha.asideOutcomes().at(-1)).to.match(/^error: .*the client has no open stream to receive this request/);
    await session.end();
  });

  it("is answered with an error at once when two calls are in flight there and the client has no GET stream", async () => {
    const session = await rawSession(peers.gateway.mcpUrl, SAMPLING);
    const slow = session.call(2, "a_slow", { steps: 10, delayMs: 100 });
    await eventually(() => peers.alpha.methodsSeen().at(-1) === "tools/call", 5_000, "the slow call upstream");
    expect(await session.call(3, "a_sample_aside", { prompt: "which call?" })).to.match(/^error: .*the client has no open stream to receive this request/);
    expect(await slow).to.equal("done after 10 steps");
    await session.end();
  });

  it("reaches the client again after the upstream GET stream dropped: the gateway reopens it", async () => {
    const client = await connectClient(peers.gateway.mcpUrl);
    try {
      expect(textOf(await client.client.callTool({ name: "a_echo", arguments: { text: "opened" } }))).to.equal("opened");
      expect(peers.alpha.getStreams(CLIENT)).to.equal(1);
      const opened = peers.alpha.getStreamsOpened(CLIENT);
      peers.alpha.dropGetStreams();
      await eventually(() => peers.alpha.getStreamsOpened(CLIENT) === opened + 1 && peers.alpha.getStreams(CLIENT) === 1, 10_000, "the GET stream reopened");
      expect(textOf(await client.client.callTool({ name: "a_sample_aside", arguments: { prompt: "after the drop", afterMs: 50 } }))).to.equal("asking later");
      await eventually(() => peers.alpha.asideOutcomes().includes("sampled: after the drop"), 5_000, "the late request answered");
    } finally {
      await client.close();
    }
  });
});

describe("relay: the upstream GET stream of an idle upstream session", function () {
  this.timeout(30_000);
  const peers = alphaBehindGateway(["--upstream-idle-timeout-seconds", "1"]);

  it("closes with it, and opens again with the next call's upstream session", async () => {
    const streams = peers.alpha.getStreams();
    const sessions = peers.alpha.openSessions();
    let client: TestClient | undefined = await connectClient(peers.gateway.mcpUrl);
    try {
      expect(textOf(await client.client.callTool({ name: "a_echo", arguments: { text: "one" } }))).to.equal("one");
      expect(peers.alpha.getStreams()).to.equal(streams + 1);
      await eventually(() => peers.alpha.openSessions() === sessions && peers.alpha.getStreams() === streams, 8_000, "the idle upstream session and its GET stream closed");
      expect(textOf(await client.client.callTool({ name: "a_sample_aside", arguments: { prompt: "again" } }))).to.equal("sampled: again");
      expect(peers.alpha.getStreams()).to.equal(streams + 1);
      await client.close();
      client = undefined;
      await eventually(() => peers.alpha.openSessions() === sessions && peers.alpha.getStreams() === streams, 5_000, "closed with the gateway session");
    } finally {
      await client?.close();
    }
  });
});
