// MCP 2026-07-28 through the gateway, in front of session-era (2025) upstreams: the SDK v2 client
// pinned to 2026-07-28 and in legacy mode on the same /mcp, and raw HTTP for every error the
// revision defines, with its code and HTTP status.
import { expect } from "chai";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { startUpstreamServer, type UpstreamServer } from "../fixtures/upstream-server.js";
import { eventually, startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { postMcp } from "../helpers/http.js";
import { MODERN_VERSION, modernMeta, modernPost, openListen } from "../helpers/per-request.js";
import { fetchStatus, registryYaml } from "../helpers/registry.js";

type Message = { id?: unknown; method?: string; result?: Record<string, unknown>; error?: { code: number; message: string; data?: Record<string, unknown> }; params?: Record<string, unknown> };

function only(messages: unknown[]): Message {
  return messages.at(-1) as Message;
}

async function connectModern(url: string, mode: "legacy" | { pin: string }): Promise<Client> {
  const client = new Client({ name: "sdk-v2-test", version: "1.0.0" }, { versionNegotiation: { mode } });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

describe("MCP 2026-07-28 per request, session-era upstreams", function () {
  this.timeout(60_000);
  let alpha: UpstreamServer;
  let beta: UpstreamServer;
  let gateway: GatewayProcess;

  before(async () => {
    alpha = await startUpstreamServer({ name: "alpha" });
    beta = await startUpstreamServer({ name: "beta" });
    gateway = await startGateway(
      registryYaml(
        [
          { name: "test/alpha", url: alpha.url, prefix: "a_" },
          { name: "test/beta", url: beta.url, prefix: "b_", forwardClientAuthorization: true },
        ],
        [{ name: "test/only-echo", tools: ["a_echo"] }],
      ),
    );
    await eventually(async () => (await fetchStatus(gateway.baseUrl)).healthyServers === 2, 20_000, "both servers ready");
  });

  after(async () => {
    await gateway?.stop();
    await alpha?.stop();
    await beta?.stop();
  });

  describe("the SDK v2 client", () => {
    it("pinned to 2026-07-28: lists prefixed tools, calls, reads, gets prompts and completes per request", async () => {
      const client = await connectModern(gateway.mcpUrl, { pin: MODERN_VERSION });
      try {
        expect(client.getNegotiatedProtocolVersion()).to.equal(MODERN_VERSION);
        const { tools } = await client.listTools();
        expect(tools.map((tool) => tool.name)).to.include.members(["a_echo", "b_echo", "a_add"]);
        const called = await client.callTool({ name: "a_echo", arguments: { text: "hi" } });
        expect(called.content).to.deep.equal([{ type: "text", text: "hi" }]);
        const read = await client.readResource({ uri: "fixture://beta/readme" });
        expect(read.contents[0]).to.include({ text: "readme of beta" });
        const prompt = await client.getPrompt({ name: "a_greeting", arguments: { name: "Ada" } });
        expect(JSON.stringify(prompt.messages)).to.contain("Hello, Ada! (from alpha)");
        const completion = await client.complete({ ref: { type: "ref/prompt", name: "b_greeting" }, argument: { name: "name", value: "" } });
        expect(completion.completion.values.length).to.be.greaterThan(0);
      } finally {
        await client.close();
      }
    });

    it("in legacy mode on the same endpoint still gets a 2025 session", async () => {
      const client = await connectModern(gateway.mcpUrl, "legacy");
      try {
        expect(client.getNegotiatedProtocolVersion()).to.match(/^2025-/);
        const called = await client.callTool({ name: "b_echo", arguments: { text: "legacy" } });
        expect(called.content).to.deep.equal([{ type: "text", text: "legacy" }]);
      } finally {
        await client.close();
      }
    });
  });

  describe("results", () => {
    it("server/discover: the per-request versions, the merged capabilities and serverInfo in _meta, with caching hints", async () => {
      const { status, messages } = await modernPost(gateway.mcpUrl, "server/discover");
      expect(status).to.equal(200);
      const result = only(messages).result ?? {};
      expect(result).to.include({ resultType: "complete", ttlMs: 0, cacheScope: "public" });
      expect(result.supportedVersions).to.deep.equal([MODERN_VERSION]);
      expect(result.capabilities).to.have.keys("tools", "prompts", "resources", "completions", "logging");
      expect(result._meta).to.deep.equal({ "io.modelcontextprotocol/serverInfo": { name: "mcp-gateway", version: "0.1.0" } });
    });

    it("every result has resultType; lists carry public hints, reads private ones", async () => {
      const list = only((await modernPost(gateway.mcpUrl, "tools/list")).messages).result ?? {};
      expect(list).to.include({ resultType: "complete", ttlMs: 0, cacheScope: "public" });
      const read = only((await modernPost(gateway.mcpUrl, "resources/read", { uri: "fixture://alpha/readme" })).messages).result ?? {};
      expect(read).to.include({ resultType: "complete", ttlMs: 0, cacheScope: "private" });
      const call = only((await modernPost(gateway.mcpUrl, "tools/call", { name: "a_add", arguments: { a: 1, b: 2 } })).messages).result ?? {};
      expect(call).to.include({ resultType: "complete" }).and.not.to.have.property("ttlMs");
      expect(call.structuredContent).to.deep.equal({ sum: 3 });
    });

    it("a virtual server narrows the list as in the session era, and the list's scope becomes private", async () => {
      const { messages } = await modernPost(gateway.mcpUrl, "tools/list", {}, { headers: { "x-mcp-virtualserver": "test/only-echo" } });
      const result = only(messages).result ?? {};
      expect((result.tools as Array<{ name: string }>).map((tool) => tool.name)).to.deep.equal(["a_echo"]);
      expect(result.cacheScope).to.equal("private");
    });

    it("the same request id used by concurrent requests does not collide", async () => {
      const answers = await Promise.all(["one", "two", "three"].map((text) => modernPost(gateway.mcpUrl, "tools/call", { name: "a_echo", arguments: { text } }, { id: 7 })));
      expect(answers.map((answer) => only(answer.messages))).to.deep.equal(
        ["one", "two", "three"].map((text) => ({ jsonrpc: "2.0", id: 7, result: { content: [{ type: "text", text }], resultType: "complete" } })),
      );
    });

    it("one caller with one set of capabilities reuses one upstream session; other capabilities get their own", async () => {
      const before = alpha.sessionsOpened();
      for (let i = 0; i < 3; i++) await modernPost(gateway.mcpUrl, "tools/call", { name: "a_echo", arguments: { text: "x" } }, { capabilities: { roots: {} } });
      expect(alpha.sessionsOpened() - before).to.equal(1);
      await modernPost(gateway.mcpUrl, "tools/call", { name: "a_echo", arguments: { text: "x" } }, { capabilities: { roots: {}, sampling: {} } });
      expect(alpha.sessionsOpened() - before).to.equal(2);
    });

    it("an upstream that takes the client's token gets this request's Authorization", async () => {
      for (const token of ["Bearer first", "Bearer second"]) {
        const { messages } = await modernPost(gateway.mcpUrl, "tools/call", { name: "b_whoami", arguments: {} }, { headers: { authorization: token } });
        const content = (only(messages).result?.content as Array<{ text: string }>)[0]?.text ?? "{}";
        expect((JSON.parse(content) as { authorization: string }).authorization).to.equal(token);
      }
    });

    it("log messages pass only when the request set a logLevel, and progress for its token", async () => {
      const quiet = await modernPost(gateway.mcpUrl, "tools/call", { name: "a_log", arguments: { level: "error", message: "hidden" } });
      expect(quiet.messages.filter((message) => (message as Message).method === "notifications/message")).to.deep.equal([]);
      const loud = await modernPost(gateway.mcpUrl, "tools/call", { name: "a_log", arguments: { level: "error", message: "shown" } }, { meta: { "io.modelcontextprotocol/logLevel": "warning" } });
      expect(loud.messages.find((message) => (message as Message).method === "notifications/message")).to.have.nested.property("params.data", "shown");
      const below = await modernPost(gateway.mcpUrl, "tools/call", { name: "a_log", arguments: { level: "info", message: "below" } }, { meta: { "io.modelcontextprotocol/logLevel": "warning" } });
      expect(below.messages.filter((message) => (message as Message).method === "notifications/message")).to.deep.equal([]);
      const slow = await modernPost(gateway.mcpUrl, "tools/call", { name: "a_slow", arguments: { steps: 2, delayMs: 10 } }, { meta: { progressToken: "p1" } });
      expect(slow.messages.filter((message) => (message as Message).method === "notifications/progress")).to.have.lengthOf(2);
      expect(only(slow.messages).result).to.include({ resultType: "complete" });
    });
  });

  describe("errors", () => {
    const meta = modernMeta();

    it("no _meta, or _meta without protocolVersion or clientCapabilities: -32602, HTTP 400", async () => {
      for (const params of [{}, { _meta: { "io.modelcontextprotocol/clientCapabilities": {} } }, { _meta: { "io.modelcontextprotocol/protocolVersion": MODERN_VERSION } }]) {
        const { status, messages } = await modernPost(gateway.mcpUrl, "tools/list", params, { id: 101, bare: true });
        expect(status, JSON.stringify(params)).to.equal(400);
        expect(only(messages)).to.include({ id: 101 }).and.to.have.nested.property("error.code", -32602);
      }
    });

    it("clientInfo may be left out", async () => {
      const { status, messages } = await modernPost(gateway.mcpUrl, "tools/list", { _meta: { "io.modelcontextprotocol/protocolVersion": MODERN_VERSION, "io.modelcontextprotocol/clientCapabilities": {} } });
      expect(status).to.equal(200);
      expect(only(messages).result).to.have.property("tools");
    });

    it("an unknown version: UnsupportedProtocolVersion (-32022, HTTP 400) listing the supported ones and echoing the requested", async () => {
      const { status, messages } = await modernPost(gateway.mcpUrl, "server/discover", { _meta: { ...meta, "io.modelcontextprotocol/protocolVersion": "v999" } }, { id: 301, headers: { "mcp-protocol-version": "v999" } });
      expect(status).to.equal(400);
      expect(only(messages)).to.deep.include({ id: 301, error: { code: -32022, message: "Unsupported protocol version", data: { supported: [MODERN_VERSION], requested: "v999" } } });
    });

    it("headers missing or not equal to the body: HeaderMismatch (-32020, HTTP 400)", async () => {
      const cases: Array<[string, Record<string, string | undefined>, string, Record<string, unknown>?]> = [
        ["no MCP-Protocol-Version", { "mcp-protocol-version": undefined }, "tools/list"],
        ["MCP-Protocol-Version differs from _meta", { "mcp-protocol-version": "2025-11-25" }, "tools/list"],
        ["no Mcp-Method", { "mcp-method": undefined }, "tools/list"],
        ["Mcp-Method differs", { "mcp-method": "prompts/list" }, "tools/list"],
        ["no Mcp-Name", { "mcp-name": undefined }, "tools/call", { name: "a_echo", arguments: { text: "x" } }],
        ["Mcp-Name differs", { "mcp-name": "a_add" }, "tools/call", { name: "a_echo", arguments: { text: "x" } }],
        ["Mcp-Name differs from the uri", { "mcp-name": "fixture://alpha/other" }, "resources/read", { uri: "fixture://alpha/readme" }],
      ];
      for (const [what, headers, method, params] of cases) {
        const { status, messages } = await modernPost(gateway.mcpUrl, method, params ?? {}, { id: 302, headers });
        expect(status, what).to.equal(400);
        expect(only(messages), what).to.include({ id: 302 }).and.to.have.nested.property("error.code", -32020);
      }
    });

    it("a base64-encoded Mcp-Name is decoded before it is compared", async () => {
      const encoded = `=?base64?${Buffer.from("a_echo").toString("base64")}?=`;
      const { status, messages } = await modernPost(gateway.mcpUrl, "tools/call", { name: "a_echo", arguments: { text: "b64" } }, { headers: { "mcp-name": encoded } });
      expect(status).to.equal(200);
      expect(only(messages).result?.content).to.deep.equal([{ type: "text", text: "b64" }]);
    });

    it("removed and unknown methods: -32601 with HTTP 404, under the request's id", async () => {
      for (const method of ["initialize", "ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe", "no/such-method"]) {
        const { status, messages } = await modernPost(gateway.mcpUrl, method, {}, { id: 500 });
        expect(status, method).to.equal(404);
        expect(only(messages), method).to.deep.include({ id: 500, error: { code: -32601, message: `Method not found: ${method}` } });
      }
    });

    it("an unknown tool is -32602; an unknown resource is -32602 too (not the session era's -32002)", async () => {
      const tool = await modernPost(gateway.mcpUrl, "tools/call", { name: "a_nope", arguments: {} });
      expect([tool.status, only(tool.messages).error?.code]).to.deep.equal([200, -32602]);
      const resource = await modernPost(gateway.mcpUrl, "resources/read", { uri: "nothing://here" });
      expect([resource.status, only(resource.messages).error?.code]).to.deep.equal([200, -32602]);
    });

    it("a call that needs a capability the request did not declare: -32021 (HTTP 400) with requiredCapabilities", async () => {
      const { status, messages } = await modernPost(gateway.mcpUrl, "tools/call", { name: "a_sample", arguments: { prompt: "p" } }, { id: 401 });
      expect(status).to.equal(400);
      const error = only(messages).error;
      expect(error?.code).to.equal(-32021);
      expect(error?.data).to.deep.equal({ requiredCapabilities: { sampling: {} } });
    });

    it("a call whose upstream asks a declared capability is answered with an InputRequiredResult, not left waiting", async () => {
      const { status, messages } = await modernPost(gateway.mcpUrl, "tools/call", { name: "a_elicit", arguments: { message: "?" } }, { capabilities: { elicitation: {} } });
      expect(status).to.equal(200);
      expect(only(messages).result?.resultType).to.equal("input_required");
    });

    it("a client response is refused (-32600, 400) and a notification is accepted (202)", async () => {
      const headers = { "mcp-protocol-version": MODERN_VERSION, "mcp-method": "x" };
      const response = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: 3, result: { _meta: meta } }, headers);
      expect([response.status, only(response.messages).error?.code]).to.deep.equal([400, -32600]);
      const notification = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 1, _meta: meta } }, headers);
      expect(notification.status).to.equal(202);
    });

    it("a notification without the version header, or with one this era does not serve, is refused (400) as a request would be", async () => {
      const body = { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 1, _meta: meta } };
      const missing = await postMcp(gateway.mcpUrl, body, { "mcp-method": "notifications/cancelled" });
      expect([missing.status, only(missing.messages).error?.code]).to.deep.equal([400, -32020]);
      const unknown = await postMcp(gateway.mcpUrl, body, { "mcp-protocol-version": "v999", "mcp-method": "notifications/cancelled" });
      expect([unknown.status, only(unknown.messages).error]).to.deep.equal([400, { code: -32022, message: "Unsupported protocol version", data: { supported: [MODERN_VERSION], requested: "v999" } }]);
    });

    it("a session-era request without a session is still refused as before (400), and initialize still opens one", async () => {
      const stray = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: 1, method: "tools/list" }, { "mcp-protocol-version": "2025-11-25" });
      expect(stray.status).to.equal(400);
      expect(only(stray.messages).error?.code).to.equal(-32000);
      const init = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "x", version: "1" }, _meta: {} } });
      expect(init.status).to.equal(200);
      expect(init.headers.get("mcp-session-id")).to.be.a("string");
    });
  });

  describe("subscriptions/listen", () => {
    it("acknowledges first, then delivers the list changes asked for, each with the subscriptionId", async () => {
      const tools = await openListen(gateway.mcpUrl, { toolsListChanged: true }, "sub-tools");
      const prompts = await openListen(gateway.mcpUrl, { promptsListChanged: true }, "sub-prompts");
      try {
        expect(tools.status).to.equal(200);
        const ack = await tools.next(() => true);
        expect(ack).to.deep.equal({
          jsonrpc: "2.0",
          method: "notifications/subscriptions/acknowledged",
          params: { notifications: { toolsListChanged: true }, _meta: { "io.modelcontextprotocol/subscriptionId": "sub-tools" } },
        });
        await prompts.next((message) => message.method === "notifications/subscriptions/acknowledged");
        alpha.addTool("fresh_tool");
        const changed = await tools.next((message) => message.method === "notifications/tools/list_changed");
        expect(changed.params).to.deep.equal({ _meta: { "io.modelcontextprotocol/subscriptionId": "sub-tools" } });
        // The prompts-only stream must not get it.
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(prompts.messages.map((message) => (message as Message).method)).to.deep.equal(["notifications/subscriptions/acknowledged"]);
      } finally {
        tools.close();
        prompts.close();
        alpha.removeTool("fresh_tool");
      }
    });

    it("delivers updates of the resources it subscribed to upstream, and only those", async () => {
      const stream = await openListen(gateway.mcpUrl, { resourceSubscriptions: ["fixture://alpha/readme", "nothing://here"] }, 9);
      try {
        const ack = await stream.next(() => true);
        expect(ack.params).to.deep.equal({ notifications: { resourceSubscriptions: ["fixture://alpha/readme"] }, _meta: { "io.modelcontextprotocol/subscriptionId": 9 } });
        // The upstream's own stream opens just after the subscription: an update before that reaches nobody, as in the session era.
        const touching = setInterval(() => alpha.touchResource("fixture://alpha/readme"), 100);
        const updated = await stream.next((message) => message.method === "notifications/resources/updated").finally(() => clearInterval(touching));
        expect(updated.params).to.deep.equal({ uri: "fixture://alpha/readme", _meta: { "io.modelcontextprotocol/subscriptionId": 9 } });
      } finally {
        stream.close();
      }
    });

    it("a stream cut mid-way disturbs nobody: the next stream and requests are served", async () => {
      const cut = await openListen(gateway.mcpUrl, { toolsListChanged: true, resourceSubscriptions: ["fixture://beta/readme"] }, "cut");
      await cut.next(() => true);
      cut.close();
      const next = await openListen(gateway.mcpUrl, { toolsListChanged: true }, "after");
      try {
        await next.next((message) => message.method === "notifications/subscriptions/acknowledged");
        beta.addTool("after_cut");
        await next.next((message) => message.method === "notifications/tools/list_changed");
        const { status } = await modernPost(gateway.mcpUrl, "tools/call", { name: "b_echo", arguments: { text: "still" } });
        expect(status).to.equal(200);
      } finally {
        next.close();
        beta.removeTool("after_cut");
      }
    });

    it("a filter that is not one: -32602", async () => {
      const { messages } = await modernPost(gateway.mcpUrl, "subscriptions/listen", { notifications: { resourceSubscriptions: "not-a-list" } });
      expect(only(messages).error?.code).to.equal(-32602);
    });
  });
});
