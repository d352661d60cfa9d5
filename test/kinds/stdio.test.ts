// stdio servers the broker runs itself, with the real @modelcontextprotocol/server-memory: one
// child for discovery and one per client session, ended with the session or when idle, bounded
// in number, started again when killed; commands that do not exist, exit at once or write
// garbage are reported, not fatal.
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { eventually, startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { connectClient, textOf } from "../helpers/mcp-client.js";
import { fetchStatus, serverReady, serverStatus } from "../helpers/registry.js";
import { memoryMain, registry } from "./peers.js";

/** Pids of the broker's children that run server-memory, oldest first. */
function memoryChildren(gateway: GatewayProcess): number[] {
  const out = execFileSync("ps", ["-o", "pid=,args=", "--ppid", String(gateway.child.pid), "--sort", "start_time"], { encoding: "utf8" });
  return out
    .split("\n")
    .filter((line) => line.includes(memoryMain))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

function memoryServer(name = "kinds/memory") {
  return { name, transport: "stdio", command: process.execPath, args: [memoryMain], env: { MEMORY_FILE_PATH: join(mkdtempSync(join(tmpdir(), "mcp-memory-")), "memory.jsonl") }, toolPrefix: "mem_" };
}

describe("kinds: stdio servers run by the broker", function () {
  this.timeout(60_000);

  describe("one child per session", () => {
    let gateway: GatewayProcess;

    before(async () => {
      gateway = await startGateway(
        registry([
          memoryServer(),
          { name: "kinds/missing", transport: "stdio", command: "/nonexistent/mcp-server", toolPrefix: "missing_" },
          { name: "kinds/exits", transport: "stdio", command: process.execPath, args: ["-e", "process.exit(3)"], toolPrefix: "exits_" },
          { name: "kinds/garbage", transport: "stdio", command: process.execPath, args: ["-e", "console.log('hello, I am not JSON-RPC'); setInterval(() => {}, 1000)"], toolPrefix: "garbage_" },
        ]),
        ["--retry-max-seconds", "1"],
      );
      await serverReady(gateway.baseUrl, "kinds/memory");
    });

    after(async () => {
      await gateway?.stop();
    });

    it("lists and calls the tools of a stdio server, with its stderr in the log at debug", async () => {
      const client = await connectClient(gateway.mcpUrl);
      try {
        const names = (await client.client.listTools()).tools.map((tool) => tool.name);
        expect(names).to.include.members(["mem_create_entities", "mem_read_graph"]);
        await client.client.callTool({ name: "mem_create_entities", arguments: { entities: [{ name: "gateway", entityType: "service", observations: ["speaks stdio"] }] } });
        const graph = await client.client.callTool({ name: "mem_read_graph", arguments: {} });
        expect(textOf(graph)).to.include("speaks stdio");
      } finally {
        await client.close();
      }
      expect(serverStatus(await fetchStatus(gateway.baseUrl), "kinds/memory")).to.deep.include({ ready: true, transport: "stdio" });
      expect(gateway.output()).to.include("Knowledge Graph MCP Server running on stdio");
    });

    it("starts a child for a session on first use and ends it when the session is deleted", async () => {
      const [discoveryChild] = memoryChildren(gateway);
      expect(memoryChildren(gateway)).to.have.length(1);
      const client = await connectClient(gateway.mcpUrl);
      await client.client.listTools();
      expect(memoryChildren(gateway), "no child before the first call").to.have.length(1);
      await client.client.callTool({ name: "mem_read_graph", arguments: {} });
      const children = memoryChildren(gateway);
      expect(children).to.have.length(2);
      expect(children[0]).to.equal(discoveryChild);
      await client.close();
      await eventually(() => memoryChildren(gateway).length === 1, 5_000, "the session's child to end");
      expect(memoryChildren(gateway)).to.deep.equal([discoveryChild]);
    });

    it("starts a killed child again: the session's on its next call, discovery's with its tools back", async () => {
      const client = await connectClient(gateway.mcpUrl);
      try {
        await client.client.callTool({ name: "mem_read_graph", arguments: {} });
        const [discoveryChild, sessionChild] = memoryChildren(gateway);
        process.kill(sessionChild!, "SIGKILL");
        await eventually(() => !memoryChildren(gateway).includes(sessionChild!), 5_000, "the session's child to die");
        expect(textOf(await client.client.callTool({ name: "mem_read_graph", arguments: {} }))).to.include("gateway");
        process.kill(discoveryChild!, "SIGKILL");
        await eventually(async () => {
          const status = serverStatus(await fetchStatus(gateway.baseUrl), "kinds/memory");
          return status?.ready && !memoryChildren(gateway).includes(discoveryChild!);
        }, 10_000, "discovery back on a new child");
        expect((await client.client.listTools()).tools.map((tool) => tool.name)).to.include("mem_read_graph");
      } finally {
        await client.close();
      }
    });

    it("reports a command that does not exist, one that exits at once and one that writes garbage, and serves the rest", async () => {
      const statuses = await eventually(async () => {
        const status = await fetchStatus(gateway.baseUrl);
        const found = ["kinds/missing", "kinds/exits", "kinds/garbage"].map((name) => serverStatus(status, name));
        return found.every((server) => server && server.message !== "connecting") && found;
      });
      expect(statuses[0]).to.deep.include({ ready: false, message: "stdio command not found: /nonexistent/mcp-server" });
      expect(statuses[1]).to.deep.include({ ready: false, message: "stdio server exited (code 3)" });
      expect(statuses[2]).to.deep.include({ ready: false, message: 'stdio server wrote a line that is not JSON to stdout: "hello, I am not JSON-RPC"' });
      expect(gateway.child.exitCode).to.equal(null);
      await serverReady(gateway.baseUrl, "kinds/memory");
    });
  });

  describe("bounded and idle", () => {
    let gateway: GatewayProcess;

    before(async () => {
      gateway = await startGateway(registry([memoryServer()]), ["--max-stdio-processes", "2", "--upstream-idle-timeout-seconds", "1"]);
      await serverReady(gateway.baseUrl, "kinds/memory");
    });

    after(async () => {
      await gateway?.stop();
    });

    it("refuses a child past --max-stdio-processes with a clear error, and ends idle children", async () => {
      const first = await connectClient(gateway.mcpUrl);
      const second = await connectClient(gateway.mcpUrl);
      try {
        await first.client.callTool({ name: "mem_read_graph", arguments: {} });
        expect(memoryChildren(gateway)).to.have.length(2);
        const refused = await second.client.callTool({ name: "mem_read_graph", arguments: {} }).then(
          () => undefined,
          (err: Error) => err.message,
        );
        expect(refused).to.match(/upstream kinds\/memory: stdio process limit reached \(2, --max-stdio-processes\)/);
        // The first session's child is idle for a second: it is ended, the session stays.
        await eventually(() => memoryChildren(gateway).length === 1, 5_000, "the idle child to end");
        await second.client.callTool({ name: "mem_read_graph", arguments: {} });
      } finally {
        await first.close();
        await second.close();
      }
    });
  });
});
