// A cluster in memory for the controller's fast tests: plain objects behind the ClusterView the
// reconcilers read, and a ClusterWriter that applies their writes to those objects (bumping
// resourceVersions as the API server would) and records them, so a test can assert what was written
// and that reconciling again writes nothing.
import { GATEWAY_API_GROUP, GROUP } from "../../internal/api/group.js";
import type { OwnKind } from "../../internal/api/resources.js";
import type { PublishedStatus } from "../../internal/contract/broker-status.js";
import type { ClusterView } from "../../internal/controller/cluster-view.js";
import type { ReconcileContext } from "../../internal/controller/reconcilers/reconciler.js";
import type { ConfigMap, Gateway, HTTPRoute, MCPGatewayExtension, MCPServerRegistration, MCPVirtualServer, Namespace, OwnResource, ReferenceGrant, Secret, Service } from "../../internal/controller/resources.js";
import { StatusWriter } from "../../internal/controller/status-writer.js";
import type { ClusterWriter, EventType } from "../../internal/controller/writers.js";
import { MANAGED_BY, MANAGED_BY_LABEL } from "../../internal/controller/writers.js";
import { REGISTRY_SECRET_KEY, REGISTRY_SECRET_NAME } from "../../internal/contract/registry.js";
import { ROTATED_ANNOTATION, SESSION_KEY_BYTES, SESSION_KEY_SECRET_KEY, SESSION_KEY_SECRET_NAME } from "../../internal/contract/session-key.js";
import { capturingLogger } from "./logs.js";

export interface World {
  extensions: MCPGatewayExtension[];
  registrations: MCPServerRegistration[];
  virtualServers: MCPVirtualServer[];
  gateways: Gateway[];
  routes: HTTPRoute[];
  grants: ReferenceGrant[];
  services: Service[];
  secrets: Secret[];
  configMaps: ConfigMap[];
  namespaces: Namespace[];
  status: Record<string, PublishedStatus>;
}

type Named = { metadata: { namespace?: string; name: string } };
const find = <T extends Named>(list: T[], namespace: string, name: string) => list.find((item) => (item.metadata.namespace ?? "") === namespace && item.metadata.name === name);

export function viewOf(world: World): ClusterView {
  return {
    extensions: () => world.extensions,
    registrations: () => world.registrations,
    virtualServers: () => world.virtualServers,
    extension: (ns, name) => find(world.extensions, ns, name),
    registration: (ns, name) => find(world.registrations, ns, name),
    virtualServer: (ns, name) => find(world.virtualServers, ns, name),
    gateway: (ns, name) => find(world.gateways, ns, name),
    route: (ns, name) => find(world.routes, ns, name),
    routes: (ns) => world.routes.filter((route) => route.metadata.namespace === ns),
    referenceGrants: () => world.grants,
    service: (ns, name) => find(world.services, ns, name),
    secret: (ns, name) => find(world.secrets, ns, name),
    secrets: () => world.secrets,
    namespace: (name) => find(world.namespaces, "", name),
    configMap: (ns, name) => find(world.configMaps, ns, name),
    brokerStatus: (ns) => world.status[ns],
  };
}

export function emptyWorld(): World {
  return { extensions: [], registrations: [], virtualServers: [], gateways: [], routes: [], grants: [], services: [], secrets: [], configMaps: [], namespaces: [], status: {} };
}

export const ACCEPTED = [{ type: "Accepted", status: "True" as const, reason: "Accepted", message: "", lastTransitionTime: "2026-01-01T00:00:00Z" }];

/** The objects of the seed document: an extension in mcp-test for a Gateway in gateway-system (with its grant), a route and its Service. */
export function seedWorld(): World {
  return {
    ...emptyWorld(),
    extensions: [
      {
        metadata: { name: "mcp-extension", namespace: "mcp-test", uid: "e1", creationTimestamp: "2026-01-01T00:00:00Z" },
        spec: { targetRef: { group: "gateway.networking.k8s.io", kind: "Gateway", name: "mcp-gateway", namespace: "gateway-system" }, backendPingIntervalSeconds: 60 },
      },
    ],
    gateways: [{ metadata: { name: "mcp-gateway", namespace: "gateway-system" }, spec: { listeners: [{ name: "mcp", allowedRoutes: { namespaces: { from: "All" } } }] } }],
    routes: [routeOf("mcp-test", "mcp-api-key-server-route", "api-key-server.mcp.local", "mcp-api-key-server", 9090)],
    grants: [
      {
        metadata: { name: "allow-mcp-extension", namespace: "gateway-system" },
        spec: { from: [{ group: GROUP, kind: "MCPGatewayExtension", namespace: "mcp-test" }], to: [{ group: GATEWAY_API_GROUP, kind: "Gateway" }] },
      },
    ],
    services: [{ metadata: { name: "mcp-api-key-server", namespace: "mcp-test" }, spec: { ports: [{ port: 9090 }] } }],
  };
}

/** An HTTPRoute to a Service, accepted by the seed's Gateway. */
export function routeOf(namespace: string, name: string, hostname: string, service: string, port: number, labels?: Record<string, string>, creationTimestamp = "2026-01-01T00:00:00Z"): HTTPRoute {
  return {
    metadata: { name, namespace, creationTimestamp, ...(labels ? { labels } : {}) },
    spec: { parentRefs: [{ name: "mcp-gateway", namespace: "gateway-system" }], hostnames: [hostname], rules: [{ backendRefs: [{ name: service, port }] }] },
    status: { parents: [{ parentRef: { name: "mcp-gateway", namespace: "gateway-system" }, conditions: ACCEPTED }] },
  };
}

export interface Write {
  what: "status" | "finalizers" | "registry" | "session-key" | "rotation";
  kind?: OwnKind;
  namespace: string;
  name: string;
}

/** Applies writes to the world and records them (and the Events). */
export class MemoryWriter implements ClusterWriter {
  readonly writes: Write[] = [];
  readonly events: Array<{ name: string; type: EventType; reason: string; message: string }> = [];
  private version = 1000;

  constructor(private readonly world: World) {}

  private bump(object: { metadata: { resourceVersion?: string } }): void {
    object.metadata.resourceVersion = String(++this.version);
  }

  async status(kind: OwnKind, object: OwnResource, status: Record<string, unknown>): Promise<void> {
    // A JSON round trip, as the API server stores it.
    object.status = JSON.parse(JSON.stringify(status)) as never;
    this.bump(object);
    this.writes.push({ what: "status", kind, namespace: object.metadata.namespace ?? "", name: object.metadata.name });
  }

  async finalizers(kind: OwnKind, object: OwnResource, finalizers: string[]): Promise<void> {
    object.metadata.finalizers = finalizers;
    this.bump(object);
    this.writes.push({ what: "finalizers", kind, namespace: object.metadata.namespace ?? "", name: object.metadata.name });
    if (finalizers.length === 0 && object.metadata.deletionTimestamp) this.world.registrations = this.world.registrations.filter((registration) => registration !== object);
  }

  async registry(namespace: string, current: Secret | undefined, text: string): Promise<boolean> {
    const encoded = Buffer.from(text).toString("base64");
    if (current?.data?.[REGISTRY_SECRET_KEY] === encoded) return false;
    const secret = current ?? { metadata: { name: REGISTRY_SECRET_NAME, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } } };
    secret.data = { [REGISTRY_SECRET_KEY]: encoded };
    this.bump(secret);
    if (!current) this.world.secrets.push(secret);
    this.writes.push({ what: "registry", namespace, name: REGISTRY_SECRET_NAME });
    return true;
  }

  async sessionKey(namespace: string): Promise<void> {
    const secret: Secret = { metadata: { name: SESSION_KEY_SECRET_NAME, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } }, data: { [SESSION_KEY_SECRET_KEY]: Buffer.alloc(SESSION_KEY_BYTES, 7).toString("base64") } };
    this.bump(secret);
    this.world.secrets.push(secret);
    this.writes.push({ what: "session-key", namespace, name: SESSION_KEY_SECRET_NAME });
  }

  async rotateSessionKey(secret: Secret, rotation: string): Promise<void> {
    secret.metadata.annotations = { ...secret.metadata.annotations, [ROTATED_ANNOTATION]: rotation };
    this.bump(secret);
    this.writes.push({ what: "rotation", namespace: secret.metadata.namespace ?? "", name: secret.metadata.name });
  }

  event(object: OwnResource, type: EventType, reason: string, message: string): void {
    this.events.push({ name: `${object.metadata.namespace}/${object.metadata.name}`, type, reason, message });
  }

  /** The registry text written for a namespace. */
  registryText(namespace: string): string | undefined {
    const encoded = find(this.world.secrets, namespace, REGISTRY_SECRET_NAME)?.data?.[REGISTRY_SECRET_KEY];
    return encoded === undefined ? undefined : Buffer.from(encoded, "base64").toString("utf8");
  }
}

/** A reconcile context over the world: its view, a MemoryWriter, a status writer over it, a logger that keeps its lines. */
export function contextOf(world: World): ReconcileContext & { writer: MemoryWriter } {
  const writer = new MemoryWriter(world);
  return { view: viewOf(world), client: writer, writer, status: new StatusWriter(writer), log: capturingLogger().log };
}
