// REFERENCE.md section 5, file-registry form: several upstream servers behind one gateway,
// their tools under prefixes, registry changes, failures, conflicts and virtual servers.
import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "chai";
import { startRawUpstream } from "../fixtures/raw-upstream.js";
import { startUpstreamServer, type UpstreamServer } from "../fixtures/upstream-server.js";
import { eventually, startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { postMcp, openRawSession } from "../helpers/http.js";
import { connectClient, textOf, type TestClient } from "../helpers/mcp-client.js";
import { fetchStatus, registryYaml, serverStatus, type TestServer } from "../helpers/registry.js";

async function toolNames(client: TestClient): Promise<string[]> {
  return (await client.client.listTools()).tools.map((tool) => tool.name);
}

describe("aggregation: many servers behind one endpoint", function () {
  this.timeout(60_000);
  let alpha: UpstreamServer;
  let beta: UpstreamServer;
  let gateway: GatewayProcess;
  let servers: TestServer[];
  const clients: TestClient[] = [];

  async function connect(headers: Record<string, string> = {}): Promise<TestClient> {
    const client = await connectClient(gateway.mcpUrl, headers);
    clients.push(client);
    return client;
  }

  async function waitReady(name: string, predicate: (s: { ready: boolean; message: string; totalTools: number }) => boolean = (s) => s.ready) {
    return eventually(async () => {
      const status = serverStatus(await fetchStatus(gateway.baseUrl), name);
      return status && predicate(status) ? status : undefined;
    }, 10_000, `status of ${name}`);
  }

  before(async () => {
    alpha = await startUpstreamServer({ name: "alpha" });
    beta = await startUpstreamServer({ name: "beta" });
    servers = [
      { name: "team-a/alpha", url: alpha.url, prefix: "a_" },
      { name: "team-b/beta", url: beta.url, prefix: "b_" },
    ];
    gateway = await startGateway(registryYaml(servers, [{ name: "team-a/echoes", tools: ["a_echo", "b_echo"] }]), ["--refresh-interval-seconds", "30"]);
    await waitReady("team-a/alpha");
    await waitReady("team-b/beta");
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });

  after(async () => {
    await gateway.stop();
    await Promise.all([alpha.stop(), beta.stop()]);
  });

  it("(1) reports both servers ready with tool counts and serves both prefixes", async () => {
    const status = await fetchStatus(gateway.baseUrl);
    const a = serverStatus(status, "team-a/alpha");
    expect(a?.ready).to.equal(true);
    expect(a?.message).to.match(/^server added successfully\. Total tools added \d+$/);
    expect(a?.totalTools).to.be.greaterThan(5);
    const client = await connect();
    const names = await toolNames(client);
    expect(names).to.include.members(["a_echo", "a_add", "b_echo", "b_add"]);
    expect(names.filter((name) => !name.startsWith("a_") && !name.startsWith("b_"))).to.deep.equal([]);
    expect(textOf(await client.client.callTool({ name: "a_echo", arguments: { text: "hello alpha" } }))).to.equal("hello alpha");
    const sum = await client.client.callTool({ name: "b_add", arguments: { a: 2, b: 40 } });
    expect(textOf(sum)).to.equal("42");
    expect(sum.structuredContent).to.deep.equal({ sum: 42 });
  });

  it("(9) answers an unknown tool with a JSON-RPC error carrying the request id", async () => {
    const { sessionId } = await openRawSession(gateway.mcpUrl);
    const res = await postMcp(gateway.mcpUrl, { jsonrpc: "2.0", id: "t-1", method: "tools/call", params: { name: "zz_nothing", arguments: {} } }, { "mcp-session-id": sessionId });
    expect(res.status).to.equal(200);
    expect(res.messages).to.deep.equal([{ jsonrpc: "2.0", id: "t-1", error: { code: -32602, message: "Unknown tool: zz_nothing" } }]);
  });

  it("(3) reuses one upstream session per gateway session, never showing its id", async () => {
    const first = await connect();
    const one = JSON.parse(textOf(await first.client.callTool({ name: "a_whoami", arguments: {} })));
    const two = JSON.parse(textOf(await first.client.callTool({ name: "a_whoami", arguments: {} })));
    expect(one.sessionId).to.be.a("string").and.equal(two.sessionId);
    expect(one.sessionId).to.not.equal(first.transport.sessionId);
    const second = await connect();
    const three = JSON.parse(textOf(await second.client.callTool({ name: "a_whoami", arguments: {} })));
    expect(three.sessionId).to.not.equal(one.sessionId);
  });

  it("closes the upstream sessions when the gateway session ends", async () => {
    const client = await connect();
    const before = alpha.openSessions();
    await client.client.callTool({ name: "a_echo", arguments: { text: "x" } });
    expect(alpha.openSessions()).to.equal(before + 1);
    await client.close();
    await eventually(() => alpha.openSessions() === before, 5_000, "upstream session closed");
  });

  it("(6) narrows tools/list to a virtual server and refuses calls outside it", async () => {
    const client = await connect({ "x-mcp-virtualserver": "team-a/echoes" });
    expect((await toolNames(client)).sort()).to.deep.equal(["a_echo", "b_echo"]);
    expect(textOf(await client.client.callTool({ name: "b_echo", arguments: { text: "in" } }))).to.equal("in");
    const outside = await client.client.callTool({ name: "a_add", arguments: { a: 1, b: 1 } }).catch((err: Error) => err);
    expect(String(outside)).to.match(/not part of virtual server team-a\/echoes/);
    const unknown = await connect({ "x-mcp-virtualserver": "team-a/nope" });
    expect(String(await unknown.client.listTools().catch((err: Error) => err))).to.match(/unknown virtual server team-a\/nope/);
  });

  it("(7) notifies connected clients when a server is added and when an upstream's tools change", async () => {
    const client = await connect();
    await eventually(() => beta.openSessions() >= 0, 100);
    const gamma = await startUpstreamServer({ name: "gamma" });
    try {
      gateway.writeConfig(registryYaml([...servers, { name: "team-c/gamma", url: gamma.url, prefix: "c_" }], [{ name: "team-a/echoes", tools: ["a_echo", "b_echo"] }]));
      await eventually(() => client.count("notifications/tools/list_changed") >= 1, 10_000, "list_changed after registration");
      expect(await toolNames(client)).to.include("c_echo");

      const seen = client.count("notifications/tools/list_changed");
      gamma.addTool("fresh", "a tool that appeared later");
      await eventually(() => client.count("notifications/tools/list_changed") > seen, 10_000, "list_changed after upstream change");
      expect(await toolNames(client)).to.include("c_fresh");
      expect(textOf(await client.client.callTool({ name: "c_fresh", arguments: {} }))).to.equal("fresh called");

      // A changed description is a change too, not only a new name.
      const before = client.count("notifications/tools/list_changed");
      gamma.setToolDescription("fresh", "now described differently");
      await eventually(() => client.count("notifications/tools/list_changed") > before, 10_000, "list_changed after description change");
      const fresh = (await client.client.listTools()).tools.find((tool) => tool.name === "c_fresh");
      expect(fresh?.description).to.equal("now described differently");
    } finally {
      gateway.writeConfig(registryYaml(servers, [{ name: "team-a/echoes", tools: ["a_echo", "b_echo"] }]));
      await eventually(async () => !(await fetchStatus(gateway.baseUrl)).servers.some((s) => s.name === "team-c/gamma"), 10_000, "gamma removed");
      await gamma.stop();
    }
  });

  it("(1) removes a deleted server's tools and tells clients", async () => {
    const delta = await startUpstreamServer({ name: "delta" });
    try {
      const withDelta = [...servers, { name: "team-d/delta", url: delta.url, prefix: "d_" }];
      gateway.writeConfig(registryYaml(withDelta));
      await waitReady("team-d/delta");
      const client = await connect();
      expect(await toolNames(client)).to.include("d_echo");
      gateway.writeConfig(registryYaml(servers));
      await eventually(() => client.count("notifications/tools/list_changed") >= 1, 10_000, "list_changed after removal");
      expect(await toolNames(client)).to.not.include("d_echo");
      const gone = await client.client.callTool({ name: "d_echo", arguments: { text: "x" } }).catch((err: Error) => err);
      expect(String(gone)).to.match(/Unknown tool: d_echo/);
    } finally {
      gateway.writeConfig(registryYaml(servers, [{ name: "team-a/echoes", tools: ["a_echo", "b_echo"] }]));
      await delta.stop();
    }
  });

  it("(8) drops a server that goes down, keeps the others, and brings it back when it returns", async () => {
    const client = await connect();
    await beta.stop();
    const down = await waitReady("team-b/beta", (s) => !s.ready);
    expect(down.message).to.equal("connection refused");
    await eventually(() => client.count("notifications/tools/list_changed") >= 1, 10_000, "list_changed after failure");
    const names = await toolNames(client);
    expect(names).to.not.include("b_echo");
    expect(names).to.include("a_echo");
    expect(textOf(await client.client.callTool({ name: "a_echo", arguments: { text: "still here" } }))).to.equal("still here");

    await beta.restart();
    await waitReady("team-b/beta");
    await eventually(async () => (await toolNames(client)).includes("b_echo"), 10_000, "b_echo back");
    expect(textOf(await client.client.callTool({ name: "b_echo", arguments: { text: "back" } }))).to.equal("back");
  });

  it("opens a new upstream session once when the upstream forgot the old one (restart)", async () => {
    const client = await connect();
    const before = JSON.parse(textOf(await client.client.callTool({ name: "a_whoami", arguments: {} })));
    await alpha.stop();
    await alpha.restart();
    // Discovery drops alpha's tools while it is down; once they are back, the client's old
    // upstream session id is unknown to alpha and the gateway must re-open transparently.
    await eventually(async () => (await toolNames(client)).includes("a_whoami") && (await fetchStatus(gateway.baseUrl)).healthyServers === 2, 10_000, "alpha back");
    const after = JSON.parse(textOf(await client.client.callTool({ name: "a_whoami", arguments: {} })));
    expect(after.sessionId).to.be.a("string").and.not.equal(before.sessionId);
  });

  it("(10) reports an upstream speaking an unsupported protocol version", async () => {
    const raw = await startRawUpstream("unsupported-version");
    try {
      gateway.writeConfig(registryYaml([...servers, { name: "team-x/ancient", url: raw.url, prefix: "x_" }]));
      const status = await waitReady("team-x/ancient", (s) => !s.ready && s.message !== "connecting");
      expect(status.message).to.match(/unsupported protocol version/);
    } finally {
      gateway.writeConfig(registryYaml(servers, [{ name: "team-a/echoes", tools: ["a_echo", "b_echo"] }]));
      await raw.stop();
    }
  });

  it("(11) reports a name conflict, and resolves it when a prefix changes", async () => {
    const one = await startUpstreamServer({ name: "one" });
    const two = await startUpstreamServer({ name: "two" });
    try {
      const clash = [...servers, { name: "team-e/one", url: one.url, prefix: "" }, { name: "team-f/two", url: two.url, prefix: "" }];
      gateway.writeConfig(registryYaml(clash));
      await eventually(async () => (await fetchStatus(gateway.baseUrl)).servers.filter((s) => s.name.startsWith("team-e") || s.name.startsWith("team-f")).every((s) => s.message !== "connecting"), 10_000, "both discovered");
      const status = await eventually(async () => {
        const doc = await fetchStatus(gateway.baseUrl);
        const pair = [serverStatus(doc, "team-e/one"), serverStatus(doc, "team-f/two")];
        return pair.filter((s) => s?.ready).length === 1 ? pair : undefined;
      }, 10_000, "exactly one of the clashing servers served");
      const loser = status.find((s) => !s?.ready);
      expect(loser?.message).to.match(/^conflicting tools discovered: .*\becho\b/);
      expect(loser?.conflicts).to.include("echo");

      gateway.writeConfig(registryYaml([...servers, { name: "team-e/one", url: one.url, prefix: "" }, { name: "team-f/two", url: two.url, prefix: "two_" }]));
      await waitReady("team-e/one");
      await waitReady("team-f/two");
      const client = await connect();
      expect(JSON.parse(textOf(await client.client.callTool({ name: "whoami", arguments: {} }))).server).to.equal("one");
      expect(JSON.parse(textOf(await client.client.callTool({ name: "two_whoami", arguments: {} }))).server).to.equal("two");
    } finally {
      gateway.writeConfig(registryYaml(servers, [{ name: "team-a/echoes", tools: ["a_echo", "b_echo"] }]));
      await Promise.all([one.stop(), two.stop()]);
    }
  });

  it("re-lists each server at the registry's backendPingIntervalSeconds instead of the flag's interval, from the moment it changes", async () => {
    const echoes = [{ name: "team-a/echoes", tools: ["a_echo", "b_echo"] }];
    const lists = () => alpha.methodsSeen().filter((method) => method === "tools/list").length;
    const before = lists();
    gateway.writeConfig(registryYaml(servers, echoes, { backendPingIntervalSeconds: 1 }));
    // The flag says 30 s; at 1 s the health check runs at least twice within 3.5 s of the change.
    await eventually(() => lists() >= before + 2, 3_500, "two re-lists at the 1 s interval");

    gateway.writeConfig(registryYaml(servers, echoes));
    // Room for the file watch and a re-list already under way.
    await sleep(1_500);
    const afterRestore = lists();
    await sleep(2_000);
    expect(lists(), "no re-list within 2 s once the flag's 30 s applies again").to.equal(afterRestore);
  });

  it("keeps the last good registry when the file is broken, and applies the next good one", async () => {
    gateway.writeConfig("servers: [ this is : not yaml");
    await eventually(() => gateway.output().includes("registry rejected"), 5_000, "rejection logged");
    const client = await connect();
    expect(await toolNames(client)).to.include("a_echo");
    gateway.writeConfig("servers:\n- name: bad\n  url: not-a-url\n");
    await eventually(() => gateway.output().split("registry rejected").length > 2, 5_000, "schema rejection logged");
    expect(await toolNames(client)).to.include("a_echo");
    gateway.writeConfig(registryYaml(servers, [{ name: "team-a/echoes", tools: ["a_echo", "b_echo"] }]));
    await eventually(async () => (await fetchStatus(gateway.baseUrl)).healthyServers === 2, 5_000, "good registry applied");
  });
});
