// Issue 4's promise, end to end: `make run` brings up the whole gateway on this machine with one
// server of each kind (issue 12), the seed guide's documents apply as written, `kubectl get mcpsr
// -A`, `kubectl wait` and the curl flow work, and Ctrl-C leaves no process and no bound port behind.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { eventually } from "../helpers/gateway-process.js";
import { seedDocuments } from "../helpers/seed.js";

const run = promisify(execFile);
const repoRoot = resolve(import.meta.dirname, "../../..");
const STACK_PORTS = [8001, 8081, 3001, 3002, 3003, 3004, 3005, 9090];

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const probe = createServer().once("error", () => done(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => done(true)));
  });
}

describe("local stack: make run", function () {
  this.timeout(300_000);
  let stack: ChildProcess;
  let output = "";
  let kubeconfig = "";

  const kubectl = async (...args: string[]) => (await run("kubectl", ["--kubeconfig", kubeconfig, ...args], { timeout: 90_000 })).stdout;

  before(async function () {
    if (!(await Promise.all(STACK_PORTS.map(portFree))).every(Boolean)) this.skip();
    // Its own process group, as a terminal would make it, so Ctrl-C (SIGINT to the group) is what the test sends.
    stack = spawn("make", ["--no-print-directory", "run"], { cwd: repoRoot, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    stack.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    stack.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    await eventually(() => output.includes("Ctrl-C stops everything.") || stack.exitCode !== null, 240_000, "the stack to come up");
    expect(stack.exitCode, output).to.equal(null);
    kubeconfig = /export KUBECONFIG=(\S+)/.exec(output)?.[1] ?? "";
    expect(kubeconfig).to.match(/kubeconfig$/);
  });

  after(async () => {
    if (stack && stack.exitCode === null && stack.signalCode === null) process.kill(-stack.pid!, "SIGKILL");
  });

  it("prints the kubeconfig and the kubectl and curl commands to try", () => {
    expect(output).to.include("MCP gateway running at http://127.0.0.1:8001/mcp");
    expect(output).to.include("kubectl get mcpsr -A");
    expect(output).to.include("curl -s -D /tmp/mcp_headers -X POST http://mcp.127-0-0-1.sslip.io:8001/mcp");
  });

  it("runs the seed guide as written: apply, get mcpsr, wait, then initialize and tools/list with curl", async () => {
    const documents = seedDocuments();
    expect(documents.length).to.equal(4);
    const started = Date.now();
    for (const document of documents) {
      await new Promise<void>((done, fail) => {
        const child = spawn("kubectl", ["--kubeconfig", kubeconfig, "apply", "-f", "-"], { stdio: ["pipe", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.stdin.end(document);
        child.once("exit", (code) => (code === 0 ? done() : fail(new Error(stderr))));
      });
    }
    await kubectl("wait", "--for=condition=Ready", "mcpgatewayextension/mcp-extension", "-n", "mcp-test", "--timeout=60s");
    await kubectl("wait", "--for=condition=Ready", "mcpsr/my-mcp-server", "-n", "mcp-test", "--timeout=60s");
    const readyAfterMs = Date.now() - started;
    const table = await kubectl("get", "mcpsr", "-A");
    const [header, ...rows] = table.trim().split("\n");
    expect(header?.split(/\s+/)).to.deep.equal(["NAMESPACE", "NAME", "PREFIX", "TARGET", "PATH", "READY", "TOOLS", "CREDENTIALS", "AGE"]);
    const mine = rows.find((row) => row.startsWith("mcp-test ") && row.includes(" my-mcp-server "))?.split(/\s+/);
    expect(mine?.slice(0, 6)).to.deep.equal(["mcp-test", "my-mcp-server", "myserver_", "mcp-api-key-server-route", "/mcp", "True"]);
    expect(Number(mine?.[6])).to.be.greaterThan(0);
    expect(readyAfterMs, "from kubectl apply to Ready").to.be.lessThan(20_000);

    // The guide's curl commands, with --resolve because this machine has no DNS for sslip.io.
    const resolveFlag = "--resolve mcp.127-0-0-1.sslip.io:8001:127.0.0.1";
    const headers = `/tmp/mcp_headers_stack_${process.pid}`;
    const script = `
curl -s ${resolveFlag} -D ${headers} -X POST http://mcp.127-0-0-1.sslip.io:8001/mcp \\
  -H "Content-Type: application/json" \\
  -d '{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test-client", "version": "1.0.0"}}}' >/dev/null
SESSION_ID=$(grep -i "mcp-session-id:" ${headers} | cut -d' ' -f2 | tr -d '\\r')
curl -s ${resolveFlag} -X POST http://mcp.127-0-0-1.sslip.io:8001/mcp \\
  -H "Content-Type: application/json" \\
  -H "mcp-session-id: $SESSION_ID" \\
  -d '{"jsonrpc": "2.0", "id": 2, "method": "tools/list"}'
rm -f ${headers}`;
    const { stdout } = await run("bash", ["-c", script]);
    const names = (JSON.parse(stdout) as { result: { tools: Array<{ name: string }> } }).result.tools.map((tool) => tool.name);
    // One server of each kind beside the guide's: Streamable HTTP, legacy SSE, OpenAPI, stdio behind the bridge.
    expect(names).to.include.members(["myserver_echo", "everything_echo", "sample_echo", "sse_echo", "petstore_getPetById", "memory_read_graph"]);
  });

  it("stops every process it started on Ctrl-C and leaves no port bound", async () => {
    const exited = new Promise((done) => stack.once("exit", done));
    process.kill(-stack.pid!, "SIGINT");
    await exited;
    await eventually(async () => (await Promise.all(STACK_PORTS.map(portFree))).every(Boolean), 15_000, "stack ports to be free");
    // pgrep exits 1 when nothing matches, which is what we want.
    const leftovers = await run("pgrep", ["-af", "\\.cache/local|dist/hack/local/stack\\.js"]).then(
      ({ stdout }) => stdout.trim(),
      () => "",
    );
    expect(leftovers).to.equal("");
  });
});
