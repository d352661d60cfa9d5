// Real clients and a real third-party server through the gateway: the seed document's curl
// flow word for word, the MCP Inspector's CLI, and @modelcontextprotocol/server-everything.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { startUpstreamServer, type UpstreamServer } from "../fixtures/upstream-server.js";
import { eventually, freePort, startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { connectClient, textOf } from "../helpers/mcp-client.js";
import { fetchStatus, registryYaml } from "../helpers/registry.js";
import { SESSION_ID_PATTERN } from "../helpers/http.js";

const run = promisify(execFile);
const repoRoot = resolve(import.meta.dirname, "../../..");

describe("clients: curl, MCP Inspector and server-everything through the gateway", function () {
  this.timeout(60_000);
  let sample: UpstreamServer;
  let everything: ChildProcess;
  let gateway: GatewayProcess;

  before(async () => {
    sample = await startUpstreamServer({ name: "sample" });
    const everythingPort = await freePort();
    everything = spawn(process.execPath, [resolve(repoRoot, "node_modules/@modelcontextprotocol/server-everything/dist/index.js"), "streamableHttp"], {
      env: { ...process.env, PORT: String(everythingPort) },
      stdio: "ignore",
    });
    gateway = await startGateway(
      registryYaml([
        { name: "mcp-test/my-mcp-server", url: sample.url, prefix: "myserver_" },
        { name: "mcp-test/everything", url: `http://127.0.0.1:${everythingPort}/mcp`, prefix: "everything_" },
      ]),
    );
    await eventually(async () => (await fetchStatus(gateway.baseUrl)).healthyServers === 2, 20_000, "both servers ready");
  });

  after(async () => {
    await gateway.stop();
    everything.kill();
    await sample.stop();
  });

  it("runs the seed document's curl flow: initialize, read mcp-session-id, tools/list", async () => {
    const headers = `/tmp/mcp_headers_${process.pid}`;
    // The exact commands users type (only the address differs).
    const script = `
curl -s -D ${headers} -X POST ${gateway.mcpUrl} \\
  -H "Content-Type: application/json" \\
  -d '{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test-client", "version": "1.0.0"}}}' >/dev/null
SESSION_ID=$(grep -i "mcp-session-id:" ${headers} | cut -d' ' -f2 | tr -d '\\r')
echo "MCP Session ID: $SESSION_ID" >&2
curl -s -X POST ${gateway.mcpUrl} \\
  -H "Content-Type: application/json" \\
  -H "mcp-session-id: $SESSION_ID" \\
  -d '{"jsonrpc": "2.0", "id": 2, "method": "tools/list"}'
rm -f ${headers}`;
    const { stdout, stderr } = await run("bash", ["-c", script]);
    expect(/MCP Session ID: (\S+)/.exec(stderr)?.[1], stderr).to.match(SESSION_ID_PATTERN);
    const response = JSON.parse(stdout) as { id: number; result: { tools: Array<{ name: string }> } };
    expect(response.id).to.equal(2);
    const names = response.result.tools.map((tool) => tool.name);
    expect(names).to.include.members(["myserver_echo", "myserver_add", "everything_echo"]);
    expect(names.every((name) => name.startsWith("myserver_") || name.startsWith("everything_"))).to.equal(true);
  });

  it("serves the MCP Inspector CLI: tools/list and tools/call", async () => {
    const inspector = resolve(repoRoot, "node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js");
    const list = await run(process.execPath, [inspector, "--cli", gateway.mcpUrl, "--transport", "http", "--method", "tools/list"], { timeout: 30_000 });
    const tools = (JSON.parse(list.stdout) as { tools: Array<{ name: string }> }).tools.map((tool) => tool.name);
    expect(tools).to.include.members(["myserver_add", "everything_echo"]);
    const call = await run(
      process.execPath,
      [inspector, "--cli", gateway.mcpUrl, "--transport", "http", "--method", "tools/call", "--tool-name", "myserver_add", "--tool-arg", "a=19", "b=23"],
      { timeout: 30_000 },
    );
    expect(JSON.parse(call.stdout)).to.deep.include({ structuredContent: { sum: 42 } });
  });

  it("relays server-everything's tools, prompts and resources", async () => {
    const client = await connectClient(gateway.mcpUrl);
    try {
      expect(textOf(await client.client.callTool({ name: "everything_echo", arguments: { message: "hi" } }))).to.equal("Echo: hi");
      const sum = await client.client.callTool({ name: "everything_get-sum", arguments: { a: 1, b: 2 } });
      expect(textOf(sum)).to.match(/\b3\b/);
      const progress: number[] = [];
      await client.client.callTool({ name: "everything_trigger-long-running-operation", arguments: { duration: 1, steps: 3 } }, undefined, { onprogress: (p) => progress.push(p.progress) });
      expect(progress.length).to.equal(3);
      const prompts = (await client.client.listPrompts()).prompts.map((p) => p.name);
      expect(prompts.some((name) => name.startsWith("everything_"))).to.equal(true);
      const resources = (await client.client.listResources()).resources;
      expect(resources.length).to.be.greaterThan(0);
      const read = await client.client.readResource({ uri: resources[0]!.uri });
      expect(read.contents.length).to.be.greaterThan(0);
    } finally {
      await client.close();
    }
  });
});
