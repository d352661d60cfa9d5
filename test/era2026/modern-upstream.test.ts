// An upstream of the per-request era only (an SDK v2 `createMcpHandler` server that rejects 2025
// traffic) behind the gateway: probed with server/discover, reached per request with the client's
// `_meta` and routing headers (prefix stripped), no upstream session; its InputRequiredResult
// passes through with the gateway's signed requestState, which only the same caller may bring
// back to the same request.
import { expect } from "chai";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { startUpstreamServer, type UpstreamServer } from "../fixtures/upstream-server.js";
import { eventually, startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { MODERN_VERSION, modernPost } from "../helpers/per-request.js";
import { fetchStatus, registryYaml, serverStatus } from "../helpers/registry.js";
import { startModernUpstream, type ModernUpstream } from "./modern-upstream.js";

type Message = { result?: Record<string, unknown>; error?: { code: number; message: string } };

function only(messages: unknown[]): Message {
  return messages.at(-1) as Message;
}

describe("MCP 2026-07-28 towards upstreams: an SDK v2 server of that era only", function () {
  this.timeout(60_000);
  let modern: ModernUpstream;
  let legacy: UpstreamServer;
  let gateway: GatewayProcess;

  before(async () => {
    modern = await startModernUpstream("modern");
    legacy = await startUpstreamServer({ name: "legacy" });
    gateway = await startGateway(
      registryYaml([
        { name: "test/modern", url: modern.url, prefix: "m_" },
        { name: "test/legacy", url: legacy.url, prefix: "l_" },
      ]),
    );
    await eventually(async () => (await fetchStatus(gateway.baseUrl)).healthyServers === 2, 20_000, "both servers ready");
  });

  after(async () => {
    await gateway?.stop();
    await modern?.stop();
    await legacy?.stop();
  });

  it("/status says which era each server speaks", async () => {
    const status = await fetchStatus(gateway.baseUrl);
    expect(serverStatus(status, "test/modern")).to.include({ protocolVersion: MODERN_VERSION, perRequestVersion: MODERN_VERSION, totalTools: 8 });
    expect(serverStatus(status, "test/legacy")).to.have.property("protocolVersion").that.matches(/^2025-/);
    expect(serverStatus(status, "test/legacy")).to.not.have.property("perRequestVersion");
  });

  it("a pinned 2026 client's call reaches it per request: its _meta, Mcp-Method and Mcp-Name without the prefix, no session", async () => {
    const client = new Client({ name: "pinned", version: "1.0.0" }, { versionNegotiation: { mode: { pin: MODERN_VERSION } } });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.mcpUrl)));
    try {
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name)).to.include.members(["m_echo", "m_greet", "l_echo"]);
      modern.seen.length = 0;
      const called = await client.callTool({ name: "m_echo", arguments: { text: "per request" } });
      expect(called.content).to.deep.equal([{ type: "text", text: "per request" }]);
    } finally {
      await client.close();
    }
    const call = modern.seen.find((seen) => seen.body.method === "tools/call");
    expect(call).to.include({ method: "tools/call", name: "echo", version: MODERN_VERSION, session: undefined });
    expect(call?.body.params?._meta).to.deep.include({ "io.modelcontextprotocol/protocolVersion": MODERN_VERSION, "io.modelcontextprotocol/clientInfo": { name: "pinned", version: "1.0.0" } });
  });

  it("a 2025 client reaches it per request too, declaring what it declared at initialize", async () => {
    const client = new Client({ name: "legacy-client", version: "1.0.0" }, { versionNegotiation: { mode: "legacy" } });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.mcpUrl)));
    try {
      modern.seen.length = 0;
      const called = await client.callTool({ name: "m_echo", arguments: { text: "from 2025" } });
      expect(called.content).to.deep.equal([{ type: "text", text: "from 2025" }]);
    } finally {
      await client.close();
    }
    const call = modern.seen.find((seen) => seen.body.method === "tools/call");
    expect(call).to.include({ version: MODERN_VERSION, session: undefined });
    expect(call?.body.params?._meta).to.deep.include({ "io.modelcontextprotocol/clientInfo": { name: "legacy-client", version: "1.0.0" } });
  });

  describe("multi round-trip requests", () => {
    const capabilities = { elicitation: {} };
    const answer = { who: { action: "accept", content: { name: "Ada" } } };

    async function firstRound(authorization?: string): Promise<Record<string, unknown>> {
      const headers = authorization ? { authorization } : {};
      const { status, messages } = await modernPost(gateway.mcpUrl, "tools/call", { name: "m_greet", arguments: {} }, { capabilities, headers });
      expect(status).to.equal(200);
      return only(messages).result ?? {};
    }

    it("the InputRequiredResult passes through with the gateway's state; the retry reaches the upstream with its own", async () => {
      const first = await firstRound();
      expect(first).to.include({ resultType: "input_required" });
      expect(first.inputRequests).to.have.nested.property("who.method", "elicitation/create");
      expect(first.requestState).to.be.a("string").and.not.equal("modern-state");
      modern.seen.length = 0;
      const retry = await modernPost(gateway.mcpUrl, "tools/call", { name: "m_greet", arguments: {}, inputResponses: answer, requestState: first.requestState }, { capabilities });
      expect(only(retry.messages).result?.content).to.deep.equal([{ type: "text", text: "hello Ada" }]);
      expect(modern.seen.find((seen) => seen.body.method === "tools/call")?.body.params?.requestState).to.equal("modern-state");
    });

    it("a tampered, foreign, other caller's or other request's state is refused with -32602, the upstream never asked", async () => {
      const first = await firstRound("Bearer alice");
      const state = String(first.requestState);
      const tampered = `${state.slice(0, -2)}${state.endsWith("A") ? "B" : "A"}`;
      const cases: Array<[string, string, Record<string, string>, string]> = [
        ["tampered", tampered, { authorization: "Bearer alice" }, "m_greet"],
        ["foreign", "modern-state", { authorization: "Bearer alice" }, "m_greet"],
        ["another caller", state, { authorization: "Bearer mallory" }, "m_greet"],
        ["another request", state, { authorization: "Bearer alice" }, "m_echo"],
      ];
      for (const [what, requestState, headers, name] of cases) {
        modern.seen.length = 0;
        const { messages } = await modernPost(gateway.mcpUrl, "tools/call", { name, arguments: { text: "x" }, inputResponses: answer, requestState }, { capabilities, headers });
        const error = only(messages).error;
        expect(error?.code, what).to.equal(-32602);
        expect(error?.message, what).to.match(/^Invalid params: requestState /);
        expect(modern.seen.filter((seen) => seen.body.method === "tools/call"), what).to.deep.equal([]);
      }
      const retry = await modernPost(gateway.mcpUrl, "tools/call", { name: "m_greet", arguments: {}, inputResponses: answer, requestState: state }, { capabilities, headers: { authorization: "Bearer alice" } });
      expect(only(retry.messages).result?.content, "the rightful caller").to.deep.equal([{ type: "text", text: "hello Ada" }]);
    });
  });
});
