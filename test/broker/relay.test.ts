// Everything that travels during a call besides the answer: progress, log messages, sampling,
// elicitation and roots requests from upstream to client and their answers back, cancellation;
// and the non-tool features: prompts, resources, templates, subscriptions, completion, logging.
import { expect } from "chai";
import { startUpstreamServer, type UpstreamServer } from "../fixtures/upstream-server.js";
import { eventually, startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { openRawSession, postMcp } from "../helpers/http.js";
import { connectClient, textOf, type TestClient } from "../helpers/mcp-client.js";
import { fetchStatus, registryYaml } from "../helpers/registry.js";

describe("relay: streams, client requests and non-tool features", function () {
  this.timeout(30_000);
  let alpha: UpstreamServer;
  let secured: UpstreamServer;
  let gateway: GatewayProcess;
  let client: TestClient;

  before(async () => {
    alpha = await startUpstreamServer({ name: "alpha", extraTools: 12 });
    secured = await startUpstreamServer({ name: "secured", requireToken: "s3cret" });
    gateway = await startGateway(
      registryYaml([
        { name: "ns/alpha", url: alpha.url, prefix: "a_" },
        { name: "ns/secured", url: secured.url, prefix: "s_", credential: "Bearer s3cret" },
      ]),
      ["--list-page-size", "5"],
    );
    await eventually(async () => (await fetchStatus(gateway.baseUrl)).healthyServers === 2, 10_000, "servers ready");
    client = await connectClient(gateway.mcpUrl, { authorization: "Bearer client-token" });
  });

  after(async () => {
    await client.close();
    await gateway.stop();
    await Promise.all([alpha.stop(), secured.stop()]);
  });

  it("streams progress notifications while a call runs", async () => {
    const progress: number[] = [];
    const result = await client.client.callTool({ name: "a_slow", arguments: { steps: 3, delayMs: 20 } }, undefined, { onprogress: (p) => progress.push(p.progress) });
    expect(textOf(result)).to.equal("done after 3 steps");
    expect(progress).to.deep.equal([1, 2, 3]);
  });

  it("relays log messages sent during a call", async () => {
    const before = client.count("notifications/message");
    await client.client.callTool({ name: "a_log", arguments: { level: "warning", message: "disk almost full" } });
    expect(client.count("notifications/message")).to.equal(before + 1);
    const last = client.notifications.filter((n) => n.method === "notifications/message").at(-1);
    expect(last?.params).to.deep.include({ level: "warning" });
  });

  it("relays sampling, elicitation and roots requests to the client and its answers back", async () => {
    expect(textOf(await client.client.callTool({ name: "a_sample", arguments: { prompt: "what is up?" } }))).to.equal("sampled: what is up?");
    expect(JSON.parse(textOf(await client.client.callTool({ name: "a_elicit", arguments: { message: "answer?" } })))).to.deep.equal({ action: "accept", content: { answer: "forty-two" } });
    expect(JSON.parse(textOf(await client.client.callTool({ name: "a_roots", arguments: {} })))).to.deep.equal([{ uri: "file:///workspace", name: "workspace" }]);
    expect(client.requests.slice(-3)).to.deep.equal(["sampling/createMessage", "elicitation/create", "roots/list"]);
  });

  it("keeps concurrent client requests from different upstreams apart", async () => {
    const calls = await Promise.all([
      client.client.callTool({ name: "a_sample", arguments: { prompt: "one" } }),
      client.client.callTool({ name: "s_sample", arguments: { prompt: "two" } }),
      client.client.callTool({ name: "a_sample", arguments: { prompt: "three" } }),
    ]);
    expect(calls.map(textOf)).to.deep.equal(["sampled: one", "sampled: two", "sampled: three"]);
  });

  it("forwards cancellation to the upstream and ends the call", async () => {
    const controller = new AbortController();
    const started = Date.now();
    const call = client.client.callTool({ name: "a_slow", arguments: { steps: 100, delayMs: 50 } }, undefined, { signal: controller.signal });
    setTimeout(() => controller.abort("changed my mind"), 150);
    const outcome = await call.catch((err: Error) => err);
    expect(outcome).to.be.instanceOf(Error);
    expect(Date.now() - started).to.be.lessThan(3_000);
    // The session stays usable afterwards.
    expect(textOf(await client.client.callTool({ name: "a_echo", arguments: { text: "after cancel" } }))).to.equal("after cancel");
  });

  it("tells the client, under the gateway's id, when the upstream gives up on a request it sent", async () => {
    const { sessionId } = await openRawSession(gateway.mcpUrl, "2025-06-18", {}, { sampling: {} });
    const headers = { "mcp-session-id": sessionId };
    // The client never answers the sampling request; the upstream gives up after 300 ms.
    const res = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: "s", method: "tools/call", params: { name: "a_sample", arguments: { prompt: "hello?", timeoutMs: 300 } } }, headers);
    const [asked, cancelled, answer] = res.messages as Array<{ id?: string; method?: string; params?: { requestId?: unknown }; result?: { isError?: boolean } }>;
    expect(asked?.method).to.equal("sampling/createMessage");
    expect(asked?.id).to.match(/^gw-/);
    expect(cancelled?.method).to.equal("notifications/cancelled");
    expect(cancelled?.params?.requestId).to.equal(asked?.id);
    expect(answer).to.deep.include({ id: "s" });
    expect(answer?.result?.isError).to.equal(true);
  });

  describe("a call the client cancels", () => {
    const cancellations = () => alpha.methodsSeen().filter((method) => method === "notifications/cancelled").length;
    const upstreamCalls = () => alpha.methodsSeen().filter((method) => method === "tools/call").length;
    // 30 s of work unless cancelled; no answer may arrive for it.
    const slowCall = (id: string) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "a_slow", arguments: { steps: 600, delayMs: 50 } } });

    /** Starts the POST, waits until the upstream runs every call in it, then cancels `cancelled`. */
    async function cancelWhileRunning(body: unknown, accept: string, cancelled: string, protocolVersion = "2025-06-18") {
      const { sessionId } = await openRawSession(gateway.mcpUrl, protocolVersion);
      const headers = { "mcp-session-id": sessionId };
      const callsBefore = upstreamCalls();
      const cancelsBefore = cancellations();
      const started = Date.now();
      const answer = postMcp(gateway.mcpUrl, body, { ...headers, accept });
      const calls = [body].flat().length;
      await eventually(() => upstreamCalls() === callsBefore + calls, 5_000, "the calls running upstream");
      const notified = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: cancelled, reason: "user pressed stop" } }, headers);
      expect(notified.status).to.equal(202);
      const res = await answer;
      expect(Date.now() - started, "the POST ended long before the 30 s call would have").to.be.lessThan(5_000);
      await eventually(() => cancellations() === cancelsBefore + 1, 2_000, "notifications/cancelled upstream");
      // The session goes on.
      expect((await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: "after", method: "ping" }, headers)).status).to.equal(200);
      return res;
    }

    it("accepting SSE: the upstream is told, the POST ends as an empty stream", async () => {
      const res = await cancelWhileRunning(slowCall("long"), "application/json, text/event-stream", "long");
      expect(res.status).to.equal(200);
      expect(res.headers.get("content-type")).to.match(/^text\/event-stream/);
      expect(res.messages.filter((message) => (message as { id?: unknown }).id === "long")).to.deep.equal([]);
    });

    it("as plain JSON: 202 with no body, as the client asked for no answer", async () => {
      const res = await cancelWhileRunning(slowCall("long-json"), "application/json", "long-json");
      expect({ status: res.status, text: res.text }).to.deep.equal({ status: 202, text: "" });
    });

    it("in a batch: the other calls are answered", async () => {
      const echo = { jsonrpc: "2.0", id: "quick", method: "tools/call", params: { name: "a_echo", arguments: { text: "kept" } } };
      // Batches exist in protocol version 2025-03-26 only.
      const res = await cancelWhileRunning([slowCall("long-batch"), echo], "application/json", "long-batch", "2025-03-26");
      expect(res.status).to.equal(200);
      expect(res.messages.map((message) => (message as { id: unknown }).id)).to.deep.equal(["quick"]);
    });
  });

  it("sends the configured credential for discovery and calls, never the client's own token", async () => {
    const seen = JSON.parse(textOf(await client.client.callTool({ name: "s_whoami", arguments: {} })));
    expect(seen.authorization).to.equal("Bearer s3cret");
    expect(secured.authorizationsSeen().every((value) => value === "Bearer s3cret")).to.equal(true);
    const plain = JSON.parse(textOf(await client.client.callTool({ name: "a_whoami", arguments: {} })));
    expect(plain.authorization).to.equal(null);
  });

  it("lists prompts under the prefix and routes prompts/get", async () => {
    const prompts = (await client.client.listPrompts()).prompts.map((p) => p.name);
    expect(prompts).to.include.members(["a_greeting", "s_greeting"]);
    const prompt = await client.client.getPrompt({ name: "s_greeting", arguments: { name: "Ada" } });
    const content = prompt.messages[0]?.content;
    expect(content && "text" in content ? content.text : "").to.equal("Hello, Ada! (from secured)");
    expect(String(await client.client.getPrompt({ name: "zz_none" }).catch((err: Error) => err))).to.match(/Unknown prompt: zz_none/);
  });

  it("routes resources by URI, templates included, and answers unknown URIs with -32002", async () => {
    const uris = (await listAll((cursor) => client.client.listResources({ cursor }), "resources")).map((r) => (r as { uri: string }).uri);
    expect(uris).to.include.members(["fixture://alpha/readme", "fixture://secured/readme"]);
    const read = await client.client.readResource({ uri: "fixture://secured/readme" });
    expect(read.contents[0]).to.deep.include({ text: "readme of secured" });
    const templated = await client.client.readResource({ uri: "fixture://alpha/items/7" });
    expect(templated.contents[0]).to.deep.include({ text: "item 7 of alpha" });
    const templates = (await client.client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
    expect(templates).to.include("fixture://alpha/items/{id}");
    const missing = await client.client.readResource({ uri: "fixture://nobody/x" }).catch((err: { code?: number }) => err);
    expect((missing as { code?: number }).code).to.equal(-32002);
  });

  it("relays resources/updated to subscribers", async () => {
    await client.client.subscribeResource({ uri: "fixture://alpha/readme" });
    await new Promise((r) => setTimeout(r, 200));
    alpha.touchResource("fixture://alpha/readme");
    await eventually(() => client.count("notifications/resources/updated") >= 1, 5_000, "resources/updated");
    const update = client.notifications.find((n) => n.method === "notifications/resources/updated");
    expect(update?.params).to.deep.equal({ uri: "fixture://alpha/readme" });
    await client.client.unsubscribeResource({ uri: "fixture://alpha/readme" });
  });

  it("routes completion for prompt arguments and template variables", async () => {
    const prompt = await client.client.complete({ ref: { type: "ref/prompt", name: "a_greeting" }, argument: { name: "name", value: "al" } });
    expect(prompt.completion.values).to.deep.equal(["alice", "albert"]);
    const template = await client.client.complete({ ref: { type: "ref/resource", uri: "fixture://alpha/items/{id}" }, argument: { name: "id", value: "1" } });
    expect(template.completion.values).to.deep.equal(["1", "10"]);
  });

  it("applies logging/setLevel to the session's upstream sessions", async () => {
    await client.client.setLoggingLevel("error");
    const seen = JSON.parse(textOf(await client.client.callTool({ name: "a_whoami", arguments: {} })));
    expect(seen.logLevel).to.equal("error");
  });

  it("carries a log level set before the first call into the upstream session it opens", async () => {
    const fresh = await connectClient(gateway.mcpUrl);
    try {
      await fresh.client.setLoggingLevel("critical");
      const seen = JSON.parse(textOf(await fresh.client.callTool({ name: "s_whoami", arguments: {} })));
      expect(seen.logLevel).to.equal("critical");
    } finally {
      await fresh.close();
    }
  });

  it("pages tools/list with its own cursor and rejects a forged one", async () => {
    const { sessionId } = await openRawSession(gateway.mcpUrl);
    const first = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: 1, method: "tools/list" }, { "mcp-session-id": sessionId });
    const page = (first.messages[0] as { result: { tools: unknown[]; nextCursor?: string } }).result;
    expect(page.tools).to.have.length(5);
    expect(page.nextCursor).to.be.a("string");
    const all = await listAll((cursor) => client.client.listTools({ cursor }), "tools");
    const status = await fetchStatus(gateway.baseUrl);
    expect(all).to.have.length(status.servers.reduce((sum, s) => sum + s.totalTools, 0));
    const forged = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: 2, method: "tools/list", params: { cursor: "not-a-cursor" } }, { "mcp-session-id": sessionId });
    expect(forged.messages[0]).to.deep.equal({ jsonrpc: "2.0", id: 2, error: { code: -32602, message: "invalid cursor" } });
  });

  it("reports a wrong credential and recovers when it is fixed (item 2, file form)", async () => {
    const servers = [
      { name: "ns/alpha", url: alpha.url, prefix: "a_" },
      { name: "ns/secured", url: secured.url, prefix: "s_", credential: "Bearer wrong" },
    ];
    gateway.writeConfig(registryYaml(servers));
    const failed = await eventually(async () => (await fetchStatus(gateway.baseUrl)).servers.find((s) => s.name === "ns/secured" && !s.ready && s.message !== "connecting"), 10_000, "secured NotReady");
    expect(failed.message).to.match(/HTTP 401/);
    servers[1] = { ...servers[1]!, credential: "Bearer s3cret" };
    gateway.writeConfig(registryYaml(servers));
    await eventually(async () => (await fetchStatus(gateway.baseUrl)).healthyServers === 2, 10_000, "secured ready again");
  });

  it("forwards the client's Authorization only to servers configured for it", async () => {
    const loads = gateway.output().split("registry loaded").length;
    gateway.writeConfig(
      registryYaml([
        { name: "ns/alpha", url: alpha.url, prefix: "a_", forwardClientAuthorization: true },
        { name: "ns/secured", url: secured.url, prefix: "s_", credential: "Bearer s3cret" },
      ]),
    );
    await eventually(async () => gateway.output().split("registry loaded").length > loads && (await fetchStatus(gateway.baseUrl)).healthyServers === 2, 10_000, "new registry applied");
    const fresh = await connectClient(gateway.mcpUrl, { authorization: "Bearer client-token" });
    try {
      const seen = JSON.parse(textOf(await fresh.client.callTool({ name: "a_whoami", arguments: {} })));
      expect(seen.authorization).to.equal("Bearer client-token");
    } finally {
      await fresh.close();
    }
  });
});

async function listAll(fetchPage: (cursor?: string) => Promise<Record<string, unknown>>, key: string): Promise<unknown[]> {
  const items: unknown[] = [];
  let cursor: string | undefined;
  do {
    const page = await fetchPage(cursor);
    items.push(...(page[key] as unknown[]));
    cursor = page.nextCursor as string | undefined;
  } while (cursor);
  return items;
}
