// `make run-broker` (hack/run-broker.sh): the broker-router alone on a file registry with one sample server of each
// kind, so that one tools/list shows Streamable HTTP, legacy SSE, stdio and OpenAPI tools side by side, each callable;
// Ctrl-C stops every process and frees every port. Run on free ports (the script's port variables).
import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import { expect } from "chai";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { eventually, freePort } from "../helpers/gateway-process.js";
import { connectClient, textOf } from "../helpers/mcp-client.js";

const repoRoot = resolve(import.meta.dirname, "../../..");

async function portFree(port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}/`).then(
    () => false,
    () => true,
  );
}

describe("local: make run-broker", function () {
  this.timeout(120_000);
  let script: ChildProcess;
  let output = "";
  const ports: Record<string, number> = {};

  before(async () => {
    for (const name of ["BROKER_PORT", "EVERYTHING_PORT", "SAMPLE_PORT", "SSE_PORT", "PETSTORE_PORT"]) ports[name] = await freePort();
    const env = { ...process.env, ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)])) };
    // Its own process group, as a terminal would make it, so Ctrl-C (SIGINT to the group) is what the test sends.
    script = spawn("bash", ["hack/run-broker.sh"], { cwd: repoRoot, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    script.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    script.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    await eventually(() => output.includes("Ctrl-C stops everything.") || script.exitCode !== null, 90_000, "run-broker to come up");
    expect(script.exitCode, output).to.equal(null);
  });

  after(() => {
    if (script && script.exitCode === null && script.signalCode === null) process.kill(-script.pid!, "SIGKILL");
  });

  it("says every sample server is ready", () => {
    expect(output).to.include(`MCP gateway running: http://127.0.0.1:${ports.BROKER_PORT}/mcp`);
    expect(output).to.include('"healthyServers":5 of 5 ready');
  });

  it("lists the tools of a server of each kind in one tools/list, and calls each", async () => {
    const client = await connectClient(`http://127.0.0.1:${ports.BROKER_PORT}/mcp`);
    try {
      const names = (await client.client.listTools()).tools.map((tool) => tool.name);
      expect(names).to.include.members(["everything_echo", "sample_echo", "sse_echo", "memory_read_graph", "petstore_getPetById"]);
      const call = async (name: string, args: Record<string, unknown>) => (await client.client.callTool({ name, arguments: args })) as CallToolResult;
      expect(textOf(await call("everything_echo", { message: "http" }))).to.equal("Echo: http");
      expect(textOf(await call("sse_echo", { message: "sse" }))).to.equal("Echo: sse");
      expect(JSON.parse(textOf(await call("memory_read_graph", {})))).to.have.all.keys("entities", "relations");
      const pet = await call("petstore_getPetById", { petId: 1 });
      expect(pet.isError).to.not.equal(true);
      expect(pet.structuredContent).to.deep.include({ name: "doggie" });
    } finally {
      await client.close();
    }
  });

  it("stops every process it started on Ctrl-C and leaves no port bound", async () => {
    const exited = new Promise((done) => script.once("exit", done));
    process.kill(-script.pid!, "SIGINT");
    await exited;
    await eventually(async () => (await Promise.all(Object.values(ports).map(portFree))).every(Boolean), 15_000, "run-broker's ports to be free");
  });
});
