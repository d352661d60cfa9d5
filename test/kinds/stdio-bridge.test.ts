// The stdio bridge (cmd/stdio-bridge) in front of the real @modelcontextprotocol/server-memory:
// reached by the SDK's Streamable HTTP and legacy SSE clients and through the gateway like any
// Streamable HTTP server, one child per client session, ended with the session.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { expect } from "chai";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { eventually, freePort, startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { connectClient, textOf } from "../helpers/mcp-client.js";
import { serverReady } from "../helpers/registry.js";
import { memoryMain, registry, repoRoot } from "./peers.js";

const bridgeMain = resolve(repoRoot, "dist/cmd/stdio-bridge/main.js");

interface Bridge {
  url: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

async function startBridge(command: string[]): Promise<Bridge> {
  const port = await freePort();
  const child = spawn(process.execPath, [bridgeMain, "--port", String(port), "--host", "127.0.0.1", "--", ...command], { env: { ...process.env, LOG_LEVEL: "debug", MEMORY_FILE_PATH: join(mkdtempSync(join(tmpdir(), "mcp-memory-")), "memory.jsonl") }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  await eventually(async () => (await fetch(`${url}/healthz`)).ok, 10_000, "stdio-bridge listening");
  return {
    url,
    child,
    output: () => output,
    stop: () =>
      new Promise((done) => {
        if (child.exitCode !== null) return done();
        child.once("exit", () => done());
        child.kill("SIGTERM");
      }),
  };
}

function children(bridge: Bridge): number {
  return execFileSync("ps", ["-o", "args=", "--ppid", String(bridge.child.pid)], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.includes(memoryMain)).length;
}

describe("kinds: the stdio bridge", function () {
  this.timeout(60_000);
  let bridge: Bridge;

  before(async () => {
    bridge = await startBridge([process.execPath, memoryMain]);
  });

  after(async () => {
    await bridge?.stop();
  });

  it("serves a stdio server over Streamable HTTP, one child per session, ended with the session", async () => {
    const first = new Client({ name: "first", version: "1" });
    const second = new Client({ name: "second", version: "1" });
    const firstTransport = new StreamableHTTPClientTransport(new URL(`${bridge.url}/mcp`));
    await first.connect(firstTransport);
    await second.connect(new StreamableHTTPClientTransport(new URL(`${bridge.url}/mcp`)));
    try {
      expect((await first.listTools()).tools.map((tool) => tool.name)).to.include("read_graph");
      expect(textOf(await second.callTool({ name: "read_graph", arguments: {} }))).to.be.a("string");
      expect(children(bridge)).to.equal(2);
      await firstTransport.terminateSession();
      await eventually(() => children(bridge) === 1, 5_000, "the ended session's child to exit");
    } finally {
      await first.close();
      await second.close();
    }
  });

  it("serves 2024-11-05 clients on the legacy SSE transport", async () => {
    const client = new Client({ name: "legacy", version: "1" });
    await client.connect(new SSEClientTransport(new URL(`${bridge.url}/sse`)));
    try {
      expect((await client.listTools()).tools.map((tool) => tool.name)).to.include("create_entities");
    } finally {
      await client.close();
    }
  });

  describe("behind the gateway", () => {
    let gateway: GatewayProcess;

    before(async () => {
      gateway = await startGateway(registry([{ name: "kinds/bridged-memory", url: `${bridge.url}/mcp`, toolPrefix: "bridged_" }]));
      await serverReady(gateway.baseUrl, "kinds/bridged-memory");
    });

    after(async () => {
      await gateway?.stop();
    });

    it("registers like any Streamable HTTP server", async () => {
      const client = await connectClient(gateway.mcpUrl);
      try {
        await client.client.callTool({ name: "bridged_create_entities", arguments: { entities: [{ name: "bridge", entityType: "process", observations: ["in the pod"] }] } });
        expect(textOf(await client.client.callTool({ name: "bridged_read_graph", arguments: {} }))).to.include("in the pod");
      } finally {
        await client.close();
      }
    });
  });

  it("answers a clear error when the command does not exist, and keeps serving", async () => {
    const broken = await startBridge(["/nonexistent/mcp-server"]);
    try {
      const res = await fetch(`${broken.url}/mcp`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } }),
      });
      expect(res.status).to.equal(502);
      expect(((await res.json()) as { error: { message: string } }).error.message).to.equal("stdio command not found: /nonexistent/mcp-server");
      expect((await fetch(`${broken.url}/healthz`)).ok).to.equal(true);
    } finally {
      await broken.stop();
    }
  });
});
