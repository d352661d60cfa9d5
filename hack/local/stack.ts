// `make run`: the whole gateway on a laptop. A real API server (hack/envtest) with the Gateway
// API CRDs and ours, the controller, the broker-router on 127.0.0.1:8001, a stand-in for the
// Gateway implementation, and sample MCP servers of every kind (Streamable HTTP, legacy SSE,
// OpenAPI, stdio behind the bridge) registered through resources. Prints what to
// try; Ctrl-C stops everything it started.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { loadKubeConfig } from "../../internal/kube/config.js";
import { createLogger } from "../../internal/log/logger.js";
import { GatewayStandIn } from "./gateway-standin.js";
import { stackResources, type SampleServer } from "./resources.js";

const root = resolve(import.meta.dirname, "../../..");
const state = join(root, ".cache/local");
const envtestDir = join(state, "envtest");
const kubeconfig = join(envtestDir, "kubeconfig");
const BROKER_PORT = 8001;
const CONTROLLER_PORT = 8081;
const everythingMain = join(root, "node_modules/@modelcontextprotocol/server-everything/dist/index.js");
const memoryMain = join(root, "node_modules/@modelcontextprotocol/server-memory/dist/index.js");
const prismMain = join(root, "node_modules/@stoplight/prism-cli/dist/index.js");
// The Swagger Petstore OpenAPI 3.0 document (swagger-api/swagger-petstore, Apache-2.0), unchanged.
const PETSTORE_DOCUMENT = join(root, "hack/local/petstore3.json");

/** A sample server: how to run it (node and these arguments) and how it is registered. */
interface Sample extends SampleServer {
  args: string[];
  env?: NodeJS.ProcessEnv;
}

// One server of each kind, so that one tools/list shows them all.
const SAMPLES: Sample[] = [
  { name: "everything", port: 3001, toolPrefix: "everything_", args: [everythingMain, "streamableHttp"], env: { PORT: "3001" } },
  { name: "sample", port: 3002, toolPrefix: "sample_", args: [join(root, "dist/test/fixtures/upstream-server-main.js"), "--name", "sample", "--port", "3002"] },
  // Legacy HTTP+SSE (MCP 2024-11-05).
  { name: "everything-sse", port: 3003, toolPrefix: "sse_", spec: { transport: "sse", path: "/sse" }, args: [everythingMain, "sse"], env: { PORT: "3003" } },
  // A REST API: Prism mocks the Petstore, whose OpenAPI document the registration takes from a ConfigMap.
  {
    name: "petstore",
    port: 3004,
    toolPrefix: "petstore_",
    spec: { transport: "openapi", path: "/", credentialRef: { name: "petstore-credential" }, openapi: { configMapRef: { name: "petstore-openapi", key: "petstore3.json" } } },
    args: [prismMain, "mock", PETSTORE_DOCUMENT, "-p", "3004", "-h", "127.0.0.1"],
  },
  // A stdio server behind the stdio bridge, as it would run in its own pod.
  { name: "memory", port: 3005, toolPrefix: "memory_", args: [join(root, "dist/cmd/stdio-bridge/main.js"), "--port", "3005", "--host", "127.0.0.1", "--", process.execPath, memoryMain], env: { MEMORY_FILE_PATH: join(state, "memory.jsonl") } },
  // The seed document's backend: running, with its Service, for you to register.
  { name: "mcp-api-key-server", port: 9090, args: [join(root, "dist/test/fixtures/upstream-server-main.js"), "--name", "mcp-api-key-server", "--port", "9090"] },
];

/** What the Petstore registration names: its document and the token Prism asks for (any will do). */
const SAMPLE_OBJECTS = [
  { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "petstore-openapi", namespace: "mcp-test" }, data: { "petstore3.json": readFileSync(PETSTORE_DOCUMENT, "utf8") } },
  { apiVersion: "v1", kind: "Secret", metadata: { name: "petstore-credential", namespace: "mcp-test" }, stringData: { token: "Bearer local-demo" } },
];

const say = (line: string) => process.stdout.write(`[local] ${line}\n`);
const children: ChildProcess[] = [];
let envtestStarted = false;

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const probe = createServer().once("error", () => done(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => done(true)));
  });
}

function start(name: string, args: string[], env: NodeJS.ProcessEnv = {}): void {
  const log = openSync(join(state, `${name}.log`), "w");
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", log, log] });
  child.once("exit", (code, signal) => {
    if (!stopping) {
      say(`${name} exited (${signal ?? code}); see ${join(state, `${name}.log`)}. Stopping.`);
      void stop(1);
    }
  });
  children.push(child);
}

/** Async on purpose: the gateway stand-in runs in this process and must keep reacting while kubectl waits. */
function kubectl(args: string[], input?: string): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn("kubectl", ["--kubeconfig", kubeconfig, ...args], { stdio: ["pipe", "ignore", "inherit"] });
    child.stdin.end(input ?? "");
    child.once("error", fail);
    child.once("exit", (code) => (code === 0 ? done() : fail(new Error(`kubectl ${args.join(" ")} exited with ${code}`))));
  });
}

let stopping = false;
let standIn: GatewayStandIn | undefined;
async function stop(code: number): Promise<never> {
  stopping = true;
  standIn?.stop();
  for (const child of children) child.kill("SIGTERM");
  await Promise.all(children.map((child) => (child.exitCode === null && child.signalCode === null ? new Promise((done) => child.once("exit", done)) : undefined)));
  if (envtestStarted) execFileSync("bash", [join(root, "hack/envtest/stop.sh"), envtestDir], { stdio: "ignore" });
  say("stopped");
  process.exit(code);
}

async function main(): Promise<void> {
  mkdirSync(state, { recursive: true });
  const ports = [BROKER_PORT, CONTROLLER_PORT, ...SAMPLES.map((sample) => sample.port)];
  const busy = (await Promise.all(ports.map(async (port) => ((await portFree(port)) ? undefined : port)))).filter((port) => port !== undefined);
  if (busy.length > 0) throw new Error(`ports in use: ${busy.join(", ")} (is another stack running?)`);
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));

  say("starting the API server (the first start builds kube-apiserver: several minutes)");
  envtestStarted = true;
  execFileSync("bash", [join(root, "hack/envtest/start.sh"), envtestDir, join(root, "config/crd")], { stdio: ["ignore", "inherit", "inherit"] });

  for (const sample of SAMPLES) start(sample.name, sample.args, sample.env);

  process.env.KUBECONFIG = kubeconfig;
  standIn = new GatewayStandIn(loadKubeConfig(), createLogger(process.env.LOG_LEVEL ?? "warn"));
  await standIn.start();
  await kubectl(["apply", "-f", "-"], stackResources(SAMPLES, SAMPLE_OBJECTS));
  // The guide's own MCPGatewayExtension and ReferenceGrant, so applying them again changes nothing.
  await kubectl(["apply", "-f", join(root, "config/samples/mcp_v1alpha1_mcpgatewayextension.yaml"), "-f", join(root, "config/samples/gateway_v1beta1_referencegrant.yaml")]);

  start("controller", [join(root, "dist/cmd/controller/main.js"), "--probe-address", `127.0.0.1:${CONTROLLER_PORT}`, "--leader-elect", "false"], { KUBECONFIG: kubeconfig });
  start("broker-router", [
    join(root, "dist/cmd/broker-router/main.js"),
    "--mcp-gateway-config-secret", "mcp-test/mcp-gateway-config",
    "--session-key-secret", "mcp-test/mcp-gateway-session-key",
    "--mcp-broker-public-address", `127.0.0.1:${BROKER_PORT}`,
    "--allowed-hosts", "localhost,127.0.0.1,mcp.127-0-0-1.sslip.io",
  ], { KUBECONFIG: kubeconfig });

  say("waiting for the sample registrations to become Ready");
  const registered = SAMPLES.filter((sample) => sample.toolPrefix !== undefined).map((sample) => `mcpsr/${sample.name}`);
  await kubectl(["wait", "--for=condition=Ready", "-n", "mcp-test", "--timeout=120s", ...registered]);
  process.stdout.write(`
MCP gateway running at http://127.0.0.1:${BROKER_PORT}/mcp (logs in ${state}/*.log)

  export KUBECONFIG=${kubeconfig}
  kubectl get mcpsr -A -o wide

One server of each kind is registered: everything_ and sample_ (Streamable HTTP), sse_ (legacy
SSE), petstore_ (a REST API from its OpenAPI document, ConfigMap petstore-openapi) and memory_
(a stdio server behind the stdio bridge).

Register the seed document's server (its backend, Service mcp-api-key-server:9090, is running):
  kubectl apply -f config/samples/gateway_v1_httproute.yaml -f config/samples/mcp_v1alpha1_mcpserverregistration.yaml
  kubectl wait --for=condition=Ready mcpsr/my-mcp-server -n mcp-test --timeout=60s

Then the curl flow (mcp.127-0-0-1.sslip.io resolves to 127.0.0.1; without DNS add --resolve mcp.127-0-0-1.sslip.io:${BROKER_PORT}:127.0.0.1):
  curl -s -D /tmp/mcp_headers -X POST http://mcp.127-0-0-1.sslip.io:${BROKER_PORT}/mcp -H "Content-Type: application/json" \\
    -d '{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test-client", "version": "1.0.0"}}}'
  SESSION_ID=$(grep -i "mcp-session-id:" /tmp/mcp_headers | cut -d' ' -f2 | tr -d '\\r')
  curl -X POST http://mcp.127-0-0-1.sslip.io:${BROKER_PORT}/mcp -H "Content-Type: application/json" -H "mcp-session-id: $SESSION_ID" \\
    -d '{"jsonrpc": "2.0", "id": 2, "method": "tools/list"}'

Ctrl-C stops everything.
`);
}

main().catch((err: unknown) => {
  say(`failed: ${(err as Error).message}`);
  void stop(1);
});
