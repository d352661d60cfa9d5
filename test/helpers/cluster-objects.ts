// Reading and writing objects on the shared envtest as operator tests need it: namespaces, apply,
// a route's acceptance, our resources and their Ready condition, the registry the controller wrote.
import { randomBytes } from "node:crypto";
import type { Condition } from "../../internal/api/condition.js";
import { GROUP, VERSION } from "../../internal/api/group.js";
import type { MCPGatewayExtensionStatus } from "../../internal/api/mcp-gateway-extension.js";
import type { MCPServerRegistrationStatus } from "../../internal/api/mcp-server-registration.js";
import type { MCPVirtualServerStatus } from "../../internal/api/mcp-virtual-server.js";
import { REGISTRY_SECRET_KEY, REGISTRY_SECRET_NAME } from "../../internal/contract/registry.js";
import { READY } from "../../internal/controller/status-writer.js";
import type { OperatorEnv } from "./operator-env.js";
import { within } from "./poll.js";

export type { Condition };

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString("hex")}`;
}

/** Anything that runs kubectl against the envtest server: an Envtest, an OperatorEnv. */
type Kubectl = Pick<OperatorEnv, "kubectl">;

export async function createNamespace(cluster: Kubectl, name: string): Promise<void> {
  await cluster.kubectl(["apply", "-f", "-"], `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`);
}

/** A namespace of its own for a test: `prefix` and a random suffix. */
export async function freshNamespace(cluster: Kubectl, prefix: string): Promise<string> {
  const name = uniqueName(prefix);
  await createNamespace(cluster, name);
  return name;
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

export interface CustomObject {
  metadata: { name: string; namespace: string; resourceVersion: string; generation?: number; finalizers?: string[]; deletionTimestamp?: string; uid?: string };
  spec: Record<string, unknown>;
  /** Whichever of our three kinds it is: the fields of all their statuses. */
  status?: MCPServerRegistrationStatus & MCPGatewayExtensionStatus & MCPVirtualServerStatus;
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
  return object?.status?.conditions?.find((condition) => condition.type === READY);
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
  let last: CustomObject | undefined;
  const { value } = await within(
    () => `${plural} ${namespace}/${name}; Ready was ${JSON.stringify(readyCondition(last))}`,
    timeoutMs,
    async () => {
      last = await getObject(op, plural, namespace, name).catch(() => last);
      const ready = readyCondition(last);
      return last && ready && predicate(ready, last) ? last : undefined;
    },
    { intervalMs },
  );
  return value;
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
  let object: CustomObject | undefined;
  await within(
    () => `${plural} ${namespace}/${name} to be gone: finalizers ${JSON.stringify(object?.metadata.finalizers)}, deletionTimestamp ${object?.metadata.deletionTimestamp}`,
    timeoutMs,
    async () => {
      object = await getObject(op, plural, namespace, name);
      return object === undefined;
    },
    { intervalMs: 50 },
  );
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

/** The registry the controller wrote for a namespace's broker (the registry Secret's key). */
export async function registryText(op: OperatorEnv, namespace: string): Promise<string> {
  const key = REGISTRY_SECRET_KEY.replaceAll(".", "\\.");
  const encoded = await op.kubectl(["get", "secret", REGISTRY_SECRET_NAME, "-n", namespace, "-o", `jsonpath={.data.${key}}`]);
  return Buffer.from(encoded, "base64").toString("utf8");
}

/** The namespaces one test file creates, cleaned up together when it ends. */
export class TestNamespaces {
  private readonly names: string[] = [];

  async create(op: OperatorEnv, prefix: string): Promise<string> {
    const name = await freshNamespace(op, prefix);
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
