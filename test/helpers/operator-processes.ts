// The controller and the broker-router as child processes against the shared envtest, each with
// its ServiceAccount's kubeconfig.
import { REGISTRY_SECRET_NAME } from "../../internal/contract/registry.js";
import { UNBOUNDED_CLIENT } from "./gateway-process.js";
import { BROKER_CLUSTER_ROLE, BROKER_SA, SYSTEM_NAMESPACE, type OperatorEnv } from "./operator-env.js";
import { within } from "./poll.js";
import { brokerMain, controllerMain, freePort, spawnManaged, waitHttpOk, type ManagedProcess } from "./processes.js";
import { fetchStatus, type StatusDocument } from "./registry.js";

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
      let last = -1;
      let depth = 0;
      let stableSince = Date.now();
      await within(() => `the controller to settle (queue depth ${depth})`, timeoutMs, async () => {
        const text = await metricsText();
        const reconciles = sumMetric(text, "mcp_controller_reconciles_total");
        depth = sumMetric(text, "mcp_controller_queue_depth");
        if (reconciles === last && depth === 0) return Date.now() - stableSince >= quietMs;
        last = reconciles;
        stableSince = Date.now();
        return false;
      }, { intervalMs: 100 });
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
  status(): Promise<StatusDocument>;
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

/** A broker serving the registry Secret of `namespace` (the MCPGatewayExtension's). */
export async function startBroker(op: OperatorEnv, namespace: string, extraArgs: string[] = []): Promise<BrokerProcess> {
  await grantBroker(op, namespace);
  const port = await freePort();
  const managed = spawnManaged(
    `broker ${namespace}`,
    [brokerMain, "--mcp-gateway-config-secret", `${namespace}/${REGISTRY_SECRET_NAME}`, "--mcp-broker-public-address", `127.0.0.1:${port}`, ...extraArgs],
    { KUBECONFIG: op.brokerKubeconfig, LOG_LEVEL: "info", ...UNBOUNDED_CLIENT },
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitHttpOk(`${baseUrl}/readyz`, managed, 20_000);
  return {
    ...managed,
    namespace,
    baseUrl,
    mcpUrl: `${baseUrl}/mcp`,
    status: () => fetchStatus(baseUrl),
  };
}
