// A stdio server written in Python, the reference mcp-server-time from PyPI (installed into a venv of its own),
// run by the broker from a file registry next to a Node one: listed under its prefix, callable, its tool errors
// answered as the server gives them. Skipped, saying why, when PyPI cannot be reached.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { startGateway, type GatewayProcess } from "../helpers/gateway-process.js";
import { connectClient, textOf, type TestClient } from "../helpers/mcp-client.js";
import { fetchStatus, serverReady, serverStatus } from "../helpers/registry.js";
import { memoryMain, PYTHON_TIME_SERVER, PyPiUnreachable, pythonPeer, registry } from "./peers.js";

describe("kinds: a Python stdio server (mcp-server-time from PyPI)", function () {
  this.timeout(60_000);
  let gateway: GatewayProcess | undefined;
  let client: TestClient | undefined;

  before(async function () {
    // pip's first install of the package and its dependencies takes a while; later runs reuse the venv.
    this.timeout(6 * 60_000);
    let timeServer: string;
    try {
      timeServer = await pythonPeer(PYTHON_TIME_SERVER, "mcp-server-time");
    } catch (err) {
      if (!(err instanceof PyPiUnreachable)) throw err;
      console.log(`      skipped: ${err.message}`);
      this.skip();
    }
    gateway = await startGateway(
      registry([
        { name: "kinds/time", transport: "stdio", command: timeServer, args: ["--local-timezone", "UTC"], toolPrefix: "time_" },
        { name: "kinds/memory", transport: "stdio", command: process.execPath, args: [memoryMain], env: { MEMORY_FILE_PATH: join(mkdtempSync(join(tmpdir(), "mcp-memory-")), "memory.jsonl") }, toolPrefix: "mem_" },
      ]),
    );
    await Promise.all([serverReady(gateway.baseUrl, "kinds/time"), serverReady(gateway.baseUrl, "kinds/memory")]);
    client = await connectClient(gateway.mcpUrl);
  });

  after(async () => {
    await client?.close();
    await gateway?.stop();
  });

  it("lists its tools beside another stdio server's, and /status says it is a ready stdio server", async () => {
    const names = (await client!.client.listTools()).tools.map((tool) => tool.name);
    expect(names.filter((name) => name.startsWith("time_")).sort()).to.deep.equal(["time_convert_time", "time_get_current_time"]);
    expect(names).to.include("mem_read_graph");
    expect(serverStatus(await fetchStatus(gateway!.baseUrl), "kinds/time")).to.deep.include({ ready: true, transport: "stdio", totalTools: 2 });
  });

  it("calls it: a conversion answered by the Python process", async () => {
    const result = (await client!.client.callTool({ name: "time_convert_time", arguments: { source_timezone: "UTC", time: "12:00", target_timezone: "Asia/Tokyo" } })) as CallToolResult;
    expect(result.isError).to.not.equal(true);
    const answer = JSON.parse(textOf(result)) as { source: { timezone: string }; target: { timezone: string; datetime: string }; time_difference: string };
    expect(answer.source.timezone).to.equal("UTC");
    expect(answer.target.timezone).to.equal("Asia/Tokyo");
    expect(answer.target.datetime).to.match(/T21:00:00\+09:00$/);
    expect(answer.time_difference).to.equal("+9.0h");
    const now = JSON.parse(textOf(await client!.client.callTool({ name: "time_get_current_time", arguments: { timezone: "Europe/Warsaw" } }))) as { timezone: string; datetime: string };
    expect(now.timezone).to.equal("Europe/Warsaw");
    expect(Math.abs(Date.parse(now.datetime) - Date.now())).to.be.lessThan(60_000);
  });

  it("passes its tool errors through as isError results, and the server keeps serving", async () => {
    const bad = (await client!.client.callTool({ name: "time_get_current_time", arguments: { timezone: "Mars/Olympus" } })) as CallToolResult;
    expect(bad.isError).to.equal(true);
    expect(textOf(bad)).to.include("Invalid timezone").and.include("Mars/Olympus");
    const utc = JSON.parse(textOf(await client!.client.callTool({ name: "time_get_current_time", arguments: { timezone: "UTC" } }))) as { timezone: string };
    expect(utc.timezone).to.equal("UTC");
  });
});
