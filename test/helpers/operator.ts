// The operator end to end: the real controller and broker-router binaries against the shared envtest API
// server, each running as its own ServiceAccount with exactly the RBAC of manifests/ (so a test that passes
// proves those rules are enough), plus the Gateway API objects a Gateway controller would otherwise provide.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { startUpstreamServer, type UpstreamServer, type UpstreamServerOptions } from "../fixtures/upstream-server.js";
import { sharedEnvtest, type Envtest } from "./envtest.js";
import { brokerMain, freePort, UNBOUNDED_CLIENT } from "./gateway-process.js";
import { mcpMessages } from "./http.js";

const repoRoot = resolve(import.meta.dirname, "../../..");
export const controllerMain = join(repoRoot, "dist/cmd/controller/main.js");
export const restartApiserverScript = join(repoRoot, "hack/envtest/restart-apiserver.sh");
const manifestsDir = join(repoRoot, "manifests");

export const GROUP = "mcp.kagenti.com";
export const VERSION = "v1alpha1";
export const SYSTEM_NAMESPACE = "mcp-system";
export const CONTROLLER_SA = "mcp-gateway-controller";
export const BROKER_SA = "mcp-gateway-broker-router";
export const BROKER_CLUSTER_ROLE = "mcp-gateway-broker-router";
export const LEASE_NAME = "mcp-gateway-controller";

/** The kinds of manifests/ that make up identities and permissions (not the Deployments and Services). */
const RBAC_KINDS = new Set(["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]);

export const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

export interface OperatorEnv {
  env: Envtest;
  kubectl: Envtest["kubectl"];
  /** Admin client, for reading objects quickly in polls and watches. */
  kc: KubeConfig;
  custom: CustomObjectsApi;
  /** Kubeconfigs holding a token of the controller's / broker's ServiceAccount. */
  controllerKubeconfig: string;
  brokerKubeconfig: string;
}

let installed: Promise<OperatorEnv> | undefined;

/** The shared envtest with the RBAC of manifests/ applied and a kubeconfig per ServiceAccount; once per process. */
export function operatorEnv(): Promise<OperatorEnv> {
  installed ??= install();
  return installed;
}

/** The Namespace, ServiceAccounts, (Cluster)Roles and bindings in manifests/*.yaml, as YAML documents. */
export function rbacManifests(): string[] {
  const documents: Array<{ kind: string; text: string }> = [];
  for (const file of readdirSync(manifestsDir).filter((name) => /\.ya?ml$/.test(name) && name !== "kustomization.yaml").sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(manifestsDir, file), "utf8"))) {
      const object = doc.toJS() as { kind?: string } | null;
      if (object?.kind && RBAC_KINDS.has(object.kind)) documents.push({ kind: object.kind, text: doc.toString() });
    }
  }
  // Namespaces first, so that one apply can create what goes into them.
  return [...documents.filter((d) => d.kind === "Namespace"), ...documents.filter((d) => d.kind !== "Namespace")].map((d) => d.text);
}

async function install(): Promise<OperatorEnv> {
  const env = await sharedEnvtest();
  await env.kubectl(["apply", "-f", "-"], rbacManifests().join("---\n"));
  const kubeconfigFor = async (serviceAccount: string): Promise<string> => {
    const token = (await env.kubectl(["create", "token", serviceAccount, "-n", SYSTEM_NAMESPACE, "--duration", "2h"])).trim();
    const path = join(env.dir, `kubeconfig-${serviceAccount}`);
    writeFileSync(
      path,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: envtest",
        "  cluster:",
        `    server: ${env.server}`,
        `    certificate-authority: ${env.caFile}`,
        "users:",
        `- name: ${serviceAccount}`,
        "  user:",
        `    token: ${token}`,
        "contexts:",
        "- name: envtest",
        "  context:",
        "    cluster: envtest",
        `    user: ${serviceAccount}`,
        "current-context: envtest",
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    return path;
  };
  const [controllerKubeconfig, brokerKubeconfig] = await Promise.all([kubeconfigFor(CONTROLLER_SA), kubeconfigFor(BROKER_SA)]);
  const kc = new KubeConfig();
  kc.loadFromFile(env.kubeconfig);
  return { env, kubectl: env.kubectl, kc, custom: kc.makeApiClient(CustomObjectsApi), controllerKubeconfig, brokerKubeconfig };
}

// ---------------------------------------------------------------------------------------------- processes --

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** The JSON log lines written so far. */
  logs(): Array<{ msg?: string; level?: string; time?: string; [key: string]: unknown }>;
  /** Exit code (null when killed by a signal), once exited. */
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after graceMs; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

const running = new Set<ManagedProcess>();
process.once("exit", () => {
  for (const managed of running) managed.child.kill("SIGKILL");
});

function spawnManaged(name: string, args: string[], env: NodeJS.ProcessEnv): ManagedProcess {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  const managed: ManagedProcess = {
    name,
    child,
    output: () => output,
    logs: () =>
      output
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as Record<string, unknown>];
          } catch {
            return [];
          }
        }),
    exited,
    stop: async (graceMs = 10_000) => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        const code = await exited;
        clearTimeout(timer);
        return code;
      }
      return exited;
    },
  };
  running.add(managed);
  void exited.then(() => running.delete(managed));
  return managed;
}

/** Log lines at error level or above (the binaries log pino's level labels), e.g. unhandled rejections. */
export function errorLines(managed: ManagedProcess): string[] {
  return managed
    .logs()
    .filter((line) => line.level === "error" || line.level === "fatal")
    .map((line) => JSON.stringify(line));
}

/** Stops every controller and broker still running (after hooks). */
export async function stopAllProcesses(): Promise<void> {
  await Promise.all([...running].map((managed) => managed.stop()));
}

async function waitHttpOk(url: string, managed: ManagedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (managed.child.exitCode !== null) throw new Error(`${managed.name} exited with ${managed.child.exitCode}:\n${managed.output()}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${managed.name}: ${url} not ok after ${timeoutMs} ms:\n${managed.output()}`);
    await sleep(50);
  }
}

export interface ControllerProcess extends ManagedProcess {
  identity?: string;
  probeUrl: string;
  readyz(): Promise<{ status: number; leading?: boolean }>;
  metricsText(): Promise<string>;
  /** Sum of a counter over all its label sets (optionally only those matching labels). */
  counter(name: string, labels?: Record<string, string>): Promise<number>;
  /** Waits until the queue is empty and no reconcile happened for quietMs. */
  settled(quietMs?: number, timeoutMs?: number): Promise<void>;
}

export interface ControllerOptions {
  leaderElect?: boolean;
  identity?: string;
  /** Wait for /readyz (caches synced); default true. */
  waitReady?: boolean;
  logLevel?: string;
}

export async function startController(op: OperatorEnv, options: ControllerOptions = {}): Promise<ControllerProcess> {
  const port = await freePort();
  const args = [controllerMain, "--probe-address", `127.0.0.1:${port}`, "--leader-elect", String(options.leaderElect ?? false)];
  if (options.leaderElect) args.push("--leader-election-namespace", SYSTEM_NAMESPACE, "--identity", options.identity ?? `controller-${port}`);
  const managed = spawnManaged(`controller${options.identity ? ` ${options.identity}` : ""}`, args, { KUBECONFIG: op.controllerKubeconfig, LOG_LEVEL: options.logLevel ?? "info" });
  const probeUrl = `http://127.0.0.1:${port}`;
  const metricsText = async () => (await fetch(`${probeUrl}/metrics`)).text();
  const counter = async (name: string, labels: Record<string, string> = {}) => sumMetric(await metricsText(), name, labels);
  const controller: ControllerProcess = {
    ...managed,
    identity: options.identity,
    probeUrl,
    readyz: async () => {
      const res = await fetch(`${probeUrl}/readyz`);
      const body = (await res.json()) as { leading?: boolean };
      return { status: res.status, leading: body.leading };
    },
    metricsText,
    counter,
    settled: async (quietMs = 1_000, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      let last = -1;
      let stableSince = Date.now();
      for (;;) {
        const text = await metricsText();
        const reconciles = sumMetric(text, "mcp_controller_reconciles_total");
        const depth = sumMetric(text, "mcp_controller_queue_depth");
        if (reconciles !== last || depth > 0) {
          last = reconciles;
          stableSince = Date.now();
        } else if (Date.now() - stableSince >= quietMs) {
          return;
        }
        if (Date.now() > deadline) throw new Error(`controller not settled after ${timeoutMs} ms (queue depth ${depth})`);
        await sleep(100);
      }
    },
  };
  await waitHttpOk(`${probeUrl}/healthz`, managed, 15_000);
  if (options.waitReady ?? true) await waitHttpOk(`${probeUrl}/readyz`, managed, 30_000);
  return controller;
}

/** Parses Prometheus text: the sum of all samples of `name` whose labels include `labels`. */
export function sumMetric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = Object.fromEntries([...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => present[key] === value)) sum += Number(match[3]);
  }
  return sum;
}

export interface BrokerProcess extends ManagedProcess {
  namespace: string;
  baseUrl: string;
  mcpUrl: string;
  status(): Promise<BrokerStatus>;
}

export interface BrokerStatus {
  servers: Array<{ name: string; ready: boolean; message: string; totalTools: number; conflicts: string[] }>;
}

/** Lets the broker's ServiceAccount read the registry and publish status in a namespace, as the docs say to. */
export async function grantBroker(op: OperatorEnv, namespace: string): Promise<void> {
  if (namespace === SYSTEM_NAMESPACE) return;
  await op.kubectl(
    ["apply", "-f", "-"],
    `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: ${BROKER_CLUSTER_ROLE}
  namespace: ${namespace}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: ${BROKER_CLUSTER_ROLE}
subjects:
  - kind: ServiceAccount
    name: ${BROKER_SA}
    namespace: ${SYSTEM_NAMESPACE}
`,
  );
}

/** A broker serving the registry Secret mcp-gateway-config of `namespace` (the MCPGatewayExtension's). */
export async function startBroker(op: OperatorEnv, namespace: string, extraArgs: string[] = []): Promise<BrokerProcess> {
  await grantBroker(op, namespace);
  const port = await freePort();
  const managed = spawnManaged(
    `broker ${namespace}`,
    [brokerMain, "--mcp-gateway-config-secret", `${namespace}/mcp-gateway-config`, "--mcp-broker-public-address", `127.0.0.1:${port}`, ...extraArgs],
    { KUBECONFIG: op.brokerKubeconfig, LOG_LEVEL: "info", ...UNBOUNDED_CLIENT },
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitHttpOk(`${baseUrl}/readyz`, managed, 20_000);
  return {
    ...managed,
    namespace,
    baseUrl,
    mcpUrl: `${baseUrl}/mcp`,
    status: async () => (await (await fetch(`${baseUrl}/status`)).json()) as BrokerStatus,
  };
}

/**
 * Runs hack/envtest/restart-apiserver.sh on the shared envtest; resolves (with the script's log) once the new API
 * server is ready. The old one gets SIGTERM and, after graceSeconds, SIGKILL: with clients holding watches open
 * kube-apiserver does not finish its graceful shutdown within the script's default 10 s.
 */
export function restartApiserver(op: OperatorEnv, graceSeconds = 3): Promise<string> {
  return new Promise((done, reject) => {
    execFile("bash", [restartApiserverScript, op.env.dir], { timeout: 120_000, env: { ...process.env, ENVTEST_STOP_GRACE: String(graceSeconds) } }, (err, _stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : done(stderr),
    );
  });
}

// ------------------------------------------------------------------------------------------ objects --

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString("hex")}`;
}

export async function createNamespace(op: OperatorEnv, name: string): Promise<void> {
  await op.kubectl(["apply", "-f", "-"], `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`);
}

export interface ListenerSpec {
  name: string;
  from?: "All" | "Same";
}

export function gatewayYaml(namespace: string, name: string, listeners: ListenerSpec[] = [{ name: "mcp", from: "All" }]): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  gatewayClassName: example
  listeners:
${listeners.map((listener, i) => `    - name: ${listener.name}\n      port: ${8080 + i}\n      protocol: HTTP\n      allowedRoutes:\n        namespaces:\n          from: ${listener.from ?? "All"}`).join("\n")}
`;
}

export function extensionYaml(namespace: string, name: string, gateway: { namespace: string; name: string; sectionName?: string }): string {
  return `apiVersion: ${GROUP}/${VERSION}
kind: MCPGatewayExtension
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  targetRef:
    group: gateway.networking.k8s.io
    kind: Gateway
    name: ${gateway.name}
    namespace: ${gateway.namespace}${gateway.sectionName ? `\n    sectionName: ${gateway.sectionName}` : ""}
`;
}

export function extensionGrantYaml(gatewayNamespace: string, name: string, fromNamespace: string): string {
  return `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: ${name}
  namespace: ${gatewayNamespace}
spec:
  from:
    - group: ${GROUP}
      kind: MCPGatewayExtension
      namespace: ${fromNamespace}
  to:
    - group: gateway.networking.k8s.io
      kind: Gateway
`;
}

/** A Service that resolves to http://localhost:PORT: how a test points a route at a fixture on loopback. */
export function externalNameServiceYaml(namespace: string, name: string, port: number): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  type: ExternalName
  externalName: localhost
  ports:
    - name: http
      port: ${port}
`;
}

export function routeYaml(namespace: string, name: string, gateway: { namespace: string; name: string }, hostname: string, service: string, port: number): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  parentRefs:
    - name: ${gateway.name}
      namespace: ${gateway.namespace}
  hostnames:
    - ${hostname}
  rules:
    - matches:
        - path:
            type: PathPrefix
            value: /
      backendRefs:
        - name: ${service}
          port: ${port}
`;
}

export interface RegistrationOptions {
  toolPrefix?: string;
  credentialRef?: { name: string; key?: string };
  routeNamespace?: string;
}

export function registrationYaml(namespace: string, name: string, route: string, options: RegistrationOptions = {}): string {
  const lines = [`apiVersion: ${GROUP}/${VERSION}`, "kind: MCPServerRegistration", "metadata:", `  name: ${name}`, `  namespace: ${namespace}`, "spec:"];
  if (options.toolPrefix !== undefined) lines.push(`  toolPrefix: ${JSON.stringify(options.toolPrefix)}`);
  lines.push("  targetRef:", "    group: gateway.networking.k8s.io", "    kind: HTTPRoute", `    name: ${route}`);
  if (options.routeNamespace) lines.push(`    namespace: ${options.routeNamespace}`);
  if (options.credentialRef) {
    lines.push("  credentialRef:", `    name: ${options.credentialRef.name}`);
    if (options.credentialRef.key) lines.push(`    key: ${options.credentialRef.key}`);
  }
  return `${lines.join("\n")}\n`;
}

/** A registration of every HTTPRoute of its namespace that carries these labels (spec.routeSelector). */
export function selectorRegistrationYaml(namespace: string, name: string, matchLabels: Record<string, string>, options: Pick<RegistrationOptions, "toolPrefix"> = {}): string {
  return `${JSON.stringify({
    apiVersion: `${GROUP}/${VERSION}`,
    kind: "MCPServerRegistration",
    metadata: { name, namespace },
    spec: { routeSelector: { matchLabels }, ...(options.toolPrefix === undefined ? {} : { toolPrefix: options.toolPrefix }) },
  })}\n`;
}

export function virtualServerYaml(namespace: string, name: string, tools: string[], description = "tools for a test"): string {
  return `apiVersion: ${GROUP}/${VERSION}
kind: MCPVirtualServer
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  description: ${JSON.stringify(description)}
  tools:
${tools.map((tool) => `    - ${tool}`).join("\n")}
`;
}

/** What a Gateway controller would do: the route's status says the Gateway accepted it. */
export async function markRouteAccepted(op: OperatorEnv, namespace: string, route: string, gateway: { namespace: string; name: string }): Promise<void> {
  const status = {
    status: {
      parents: [
        {
          parentRef: { name: gateway.name, namespace: gateway.namespace },
          controllerName: "example.com/gateway",
          conditions: [{ type: "Accepted", status: "True", reason: "Accepted", message: "", lastTransitionTime: "2026-01-01T00:00:00Z" }],
        },
      ],
    },
  };
  await op.kubectl(["patch", "httproute", route, "-n", namespace, "--subresource=status", "--type=merge", "-p", JSON.stringify(status)]);
}

export async function apply(op: OperatorEnv, ...documents: string[]): Promise<string> {
  return op.kubectl(["apply", "-f", "-"], documents.join("---\n"));
}

// ------------------------------------------------------------------------------------------ reading --

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface CustomObject {
  metadata: { name: string; namespace: string; resourceVersion: string; generation?: number; finalizers?: string[]; deletionTimestamp?: string; uid?: string };
  spec: Record<string, unknown>;
  status?: {
    conditions?: Condition[];
    discoveredTools?: number;
    observedGeneration?: number;
    readyServers?: string;
    servers?: Array<{ name: string; toolPrefix: string; discoveredTools: number; conditions: Condition[] }>;
  };
}

export type Plural = "mcpserverregistrations" | "mcpgatewayextensions" | "mcpvirtualservers";

/** The object, or undefined when it does not exist. */
export async function getObject(op: OperatorEnv, plural: Plural, namespace: string, name: string): Promise<CustomObject | undefined> {
  try {
    return (await op.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural, namespace, name })) as CustomObject;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

export function readyCondition(object: CustomObject | undefined): Condition | undefined {
  return object?.status?.conditions?.find((condition) => condition.type === "Ready");
}

/**
 * Polls the object until its Ready condition satisfies the predicate; returns the object. On timeout the error
 * says what the condition last was.
 */
export async function waitForReady(
  op: OperatorEnv,
  plural: Plural,
  namespace: string,
  name: string,
  predicate: (ready: Condition, object: CustomObject) => boolean = (ready) => ready.status === "True",
  timeoutMs = 20_000,
  intervalMs = 50,
): Promise<CustomObject> {
  const deadline = Date.now() + timeoutMs;
  let last: CustomObject | undefined;
  for (;;) {
    last = await getObject(op, plural, namespace, name).catch(() => last);
    const ready = readyCondition(last);
    if (last && ready && predicate(ready, last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${plural} ${namespace}/${name}; Ready was ${JSON.stringify(ready)}`);
    await sleep(intervalMs);
  }
}

export const isReady = (ready: Condition) => ready.status === "True";
export const notReadyWith = (fragment: string | RegExp) => (ready: Condition) =>
  ready.status === "False" && (typeof fragment === "string" ? ready.message.includes(fragment) : fragment.test(ready.message));

/** `kubectl wait --for=condition=Ready`, as users type it. */
export async function kubectlWaitReady(op: OperatorEnv, resource: string, namespace: string, timeoutSeconds = 60): Promise<string> {
  return op.kubectl(["wait", `--for=condition=Ready`, resource, "-n", namespace, `--timeout=${timeoutSeconds}s`]);
}

/** Waits until the object is gone from the API (finalizers removed). */
export async function waitGone(op: OperatorEnv, plural: Plural, namespace: string, name: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const object = await getObject(op, plural, namespace, name);
    if (!object) return;
    if (Date.now() > deadline) throw new Error(`${plural} ${namespace}/${name} still exists after ${timeoutMs} ms: finalizers ${JSON.stringify(object.metadata.finalizers)}, deletionTimestamp ${object.metadata.deletionTimestamp}`);
    await sleep(50);
  }
}

/** Parses `kubectl get` table output into rows keyed by the header's column names (empty cells kept). */
export function parseTable(text: string): Array<Record<string, string>> {
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  const header = lines[0] ?? "";
  const columns = [...header.matchAll(/\S+/g)].map((m) => ({ name: m[0], start: m.index }));
  return lines.slice(1).map((line) =>
    Object.fromEntries(columns.map((column, i) => [column.name, line.slice(column.start, columns[i + 1]?.start ?? line.length).trim()])),
  );
}

/** The registry the controller wrote for a namespace's broker (Secret mcp-gateway-config, key config.yaml). */
export async function registryText(op: OperatorEnv, namespace: string): Promise<string> {
  const encoded = await op.kubectl(["get", "secret", "mcp-gateway-config", "-n", namespace, "-o", "jsonpath={.data.config\\.yaml}"]);
  return Buffer.from(encoded, "base64").toString("utf8");
}

/** Tool names of one gateway session's tools/list, over raw HTTP. */
export async function listToolNames(mcpUrl: string, headers: Record<string, string> = {}): Promise<string[]> {
  const post = async (body: unknown, extra: Record<string, string> = {}) =>
    fetch(mcpUrl, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers, ...extra }, body: JSON.stringify(body) });
  const init = await post({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "operator-test", version: "1.0.0" } } });
  const sessionId = init.headers.get("mcp-session-id");
  await init.text();
  if (!sessionId) throw new Error(`initialize failed: HTTP ${init.status}`);
  const session = { "mcp-session-id": sessionId, "mcp-protocol-version": "2025-06-18" };
  await (await post({ jsonrpc: "2.0", method: "notifications/initialized" }, session)).text();
  const res = await post({ jsonrpc: "2.0", id: 2, method: "tools/list" }, session);
  const text = await res.text();
  await fetch(mcpUrl, { method: "DELETE", headers: { ...session } }).then((r) => r.text()).catch(() => undefined);
  const answer = mcpMessages(res.headers.get("content-type") ?? "", text)[0] as { result?: { tools: Array<{ name: string }> } } | undefined;
  if (!answer?.result) throw new Error(`tools/list failed: ${text}`);
  return answer.result.tools.map((tool) => tool.name);
}

// ------------------------------------------------------------------------------------------ a stack --

/**
 * One namespace with a Gateway, its MCPGatewayExtension and the broker serving it, to which a test adds MCP
 * servers (ExternalName Service -> localhost:PORT, an accepted HTTPRoute, a registration).
 */
export interface Stack {
  op: OperatorEnv;
  namespace: string;
  gateway: { namespace: string; name: string };
  extension: string;
  broker: BrokerProcess;
  /** Service + HTTPRoute (accepted) for a fixture on localhost:port; returns the route's name. */
  addRoute(name: string, port: number): Promise<string>;
  /** addRoute, then a registration of it; does not wait. */
  register(name: string, port: number, options?: RegistrationOptions): Promise<void>;
  /** Deletes the MCP objects of the namespaces it used (the controller must still run to drop finalizers). */
  cleanup(): Promise<void>;
  /** More namespaces to clean up. */
  track(namespace: string): void;
}

export async function startStack(op: OperatorEnv, prefix: string): Promise<Stack> {
  const namespace = uniqueName(prefix);
  await createNamespace(op, namespace);
  const gateway = { namespace, name: "gw" };
  const extension = "ext";
  await apply(op, gatewayYaml(namespace, gateway.name), extensionYaml(namespace, extension, gateway));
  const broker = await startBroker(op, namespace);
  await waitForReady(op, "mcpgatewayextensions", namespace, extension);
  const namespaces = new Set([namespace]);
  const addRoute = async (name: string, port: number) => {
    const route = `${name}-route`;
    await apply(op, externalNameServiceYaml(namespace, `${name}-svc`, port), routeYaml(namespace, route, gateway, `${name}.mcp.local`, `${name}-svc`, port));
    await markRouteAccepted(op, namespace, route, gateway);
    return route;
  };
  return {
    op,
    namespace,
    gateway,
    extension,
    broker,
    addRoute,
    register: async (name, port, options) => {
      const route = await addRoute(name, port);
      await apply(op, registrationYaml(namespace, name, route, options));
    },
    cleanup: () => cleanupNamespaces(op, [...namespaces]),
    track: (other) => namespaces.add(other),
  };
}

/** The namespaces one test file creates, cleaned up together when it ends. */
export class TestNamespaces {
  private readonly names: string[] = [];

  async create(op: OperatorEnv, prefix: string): Promise<string> {
    const name = uniqueName(prefix);
    await createNamespace(op, name);
    this.names.push(name);
    return name;
  }

  cleanup(op: OperatorEnv): Promise<void> {
    return cleanupNamespaces(op, this.names).catch(() => undefined);
  }
}

/** Deletes registrations, virtual servers and extensions; forces finalizers off what a dead controller left. */
export async function cleanupNamespaces(op: OperatorEnv, namespaces: string[]): Promise<void> {
  for (const namespace of namespaces) {
    for (const plural of ["mcpserverregistrations", "mcpvirtualservers", "mcpgatewayextensions"] as const) {
      try {
        await op.kubectl(["delete", plural, "--all", "-n", namespace, "--wait=true", "--timeout=15s"]);
      } catch {
        const names = (await op.kubectl(["get", plural, "-n", namespace, "-o", "name"]).catch(() => "")).split("\n").filter(Boolean);
        for (const name of names) {
          await op.kubectl(["patch", name, "-n", namespace, "--type=merge", "-p", '{"metadata":{"finalizers":null}}']).catch(() => undefined);
        }
      }
    }
  }
}

// ------------------------------------------------------------------------------------------ a suite --

/** What a describe() using operatorSuite() does besides the shared scaffolding; each step runs inside its hook. */
export interface OperatorSuiteOptions {
  /** In before, once the operator env is there and before the controller starts (what it must find at its start). */
  beforeController?: (op: OperatorEnv) => Promise<void> | void;
  /** In before, once the controller is ready (brokers, stacks, upstream servers the tests share). */
  afterController?: (op: OperatorEnv) => Promise<void> | void;
  /** First in after, before the namespaces are cleaned up and the processes stopped (a controller still drops finalizers). */
  beforeStop?: (op: OperatorEnv) => Promise<void> | void;
  /** Last in after, once every controller and broker has stopped (the servers they were using). */
  afterStop?: () => Promise<void> | void;
}

/** The state a describe()'s tests share; op and controller are set by its before hook. */
export interface OperatorSuite {
  readonly op: OperatorEnv;
  /** The controller of the suite; a new one after restartController(). */
  readonly controller: ControllerProcess;
  /** A new namespace, cleaned up in after. */
  namespace(prefix: string): Promise<string>;
  /** Stops the controller and starts another, which then is `controller`. */
  restartController(): Promise<ControllerProcess>;
}

/**
 * The hooks of a describe() whose tests share one controller; call it inside the describe. before: operatorEnv(),
 * beforeController, startController, afterController. after: beforeStop, the clean-up of namespace()'s namespaces,
 * stopAllProcesses(), afterStop. Call it after this.timeout(): mocha gives a hook the timeout its describe has when the
 * hook is registered.
 */
export function operatorSuite(options: OperatorSuiteOptions = {}): OperatorSuite {
  const namespaces = new TestNamespaces();
  let op!: OperatorEnv;
  let controller!: ControllerProcess;

  before(async () => {
    op = await operatorEnv();
    await options.beforeController?.(op);
    controller = await startController(op);
    await options.afterController?.(op);
  });

  after(async () => {
    await options.beforeStop?.(op);
    await namespaces.cleanup(op);
    await stopAllProcesses();
    await options.afterStop?.();
  });

  return {
    get op() {
      return op;
    },
    get controller() {
      return controller;
    },
    namespace: (prefix) => namespaces.create(op, prefix),
    restartController: async () => {
      await controller.stop();
      controller = await startController(op);
      return controller;
    },
  };
}

/** Polls until check() returns a truthy value; returns it with the time it took. */
export async function within<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined | false> | T | undefined | false, intervalMs = 25): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return { value, ms: Math.round(performance.now() - started) };
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
    await sleep(intervalMs);
  }
}

/** Timings the tests measured, printed at the end of the run for the report. */
export const timings: Array<{ what: string; ms: number }> = [];
export function recordTiming(what: string, ms: number): void {
  timings.push({ what, ms: Math.round(ms) });
  console.log(`      [timing] ${what}: ${Math.round(ms)} ms`);
}

/** Undo steps of one test, run newest first after it (a stack's own clean-up before its broker stops). */
export class Cleanups {
  private steps: Array<() => Promise<unknown>> = [];

  add(step: () => Promise<unknown>): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    for (const step of this.steps.reverse()) await step().catch((err: unknown) => console.warn(`cleanup: ${String(err)}`));
    this.steps = [];
  }

  /** An upstream MCP server fixture, stopped after the test. */
  async upstream(name: string, options: Omit<UpstreamServerOptions, "name"> = {}): Promise<UpstreamServer> {
    const server = await startUpstreamServer({ name, ...options });
    this.add(() => server.stop());
    return server;
  }

  /** A stack whose broker is stopped and whose objects are removed (while a controller can still drop finalizers) after the test. */
  async stack(op: OperatorEnv, prefix: string): Promise<Stack> {
    const created = await startStack(op, prefix);
    this.add(() => created.broker.stop());
    this.add(() => created.cleanup());
    return created;
  }
}
