// The shapes of the objects the controller reads, as far as it reads them. Our own resources'
// specs come from internal/api; Gateway API and core objects are typed to the fields used.
import type { Condition } from "../api/condition.js";
import type { LabelSelector } from "../api/label-selector.js";
import type { MCPGatewayExtensionSpec, MCPGatewayExtensionStatus } from "../api/mcp-gateway-extension.js";
import type { MCPServerRegistrationSpec, MCPServerRegistrationStatus } from "../api/mcp-server-registration.js";
import type { MCPVirtualServerSpec, MCPVirtualServerStatus } from "../api/mcp-virtual-server.js";
import type { OwnKind } from "../api/resources.js";
import type { ObjectMeta } from "../kube/resource.js";

/** The one metadata type of every object the controller reads and writes. */
export type Meta = ObjectMeta;

interface Resource<Kind extends OwnKind, Spec, Status> {
  apiVersion?: string;
  kind?: Kind;
  metadata: Meta;
  spec: Spec;
  status?: Status;
}

export type MCPGatewayExtension = Resource<"MCPGatewayExtension", MCPGatewayExtensionSpec, MCPGatewayExtensionStatus>;
export type MCPServerRegistration = Resource<"MCPServerRegistration", MCPServerRegistrationSpec, MCPServerRegistrationStatus>;
export type MCPVirtualServer = Resource<"MCPVirtualServer", MCPVirtualServerSpec, MCPVirtualServerStatus>;

/** One of our own resources, whatever its kind. */
export type OwnResource = MCPGatewayExtension | MCPServerRegistration | MCPVirtualServer;

export interface ParentReference {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  sectionName?: string;
}

export interface Listener {
  name: string;
  allowedRoutes?: { namespaces?: { from?: "All" | "Same" | "Selector"; selector?: LabelSelector } };
}

export interface Gateway {
  metadata: Meta;
  spec: { gatewayClassName?: string; listeners?: Listener[] };
}

export interface BackendReference {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
}

export interface HTTPRoute {
  metadata: Meta;
  spec: { parentRefs?: ParentReference[]; hostnames?: string[]; rules?: Array<{ backendRefs?: BackendReference[] }> };
  status?: { parents?: Array<{ parentRef: ParentReference; controllerName?: string; conditions?: Condition[] }> };
}

export interface ReferenceGrant {
  metadata: Meta;
  spec: { from: Array<{ group: string; kind: string; namespace: string }>; to: Array<{ group: string; kind?: string; name?: string }> };
}

export interface Service {
  metadata: Meta;
  spec?: { type?: string; externalName?: string; ports?: Array<{ name?: string; port: number; appProtocol?: string }> };
}

export interface Secret {
  metadata: Meta;
  type?: string;
  data?: Record<string, string>;
}

export interface ConfigMap {
  metadata: Meta;
  data?: Record<string, string>;
}

export interface Namespace {
  metadata: Meta;
}

/** NAMESPACE/NAME, as messages and the registry name objects. */
export function key(meta: Meta): string {
  return `${meta.namespace ?? ""}/${meta.name}`;
}

export function time(value: string | undefined): number {
  return value === undefined ? 0 : new Date(value).getTime();
}

/** Orders objects oldest first, ties by namespace/name, so every replica decides alike. */
export function olderFirst(a: { metadata: Meta }, b: { metadata: Meta }): number {
  const byAge = time(a.metadata.creationTimestamp) - time(b.metadata.creationTimestamp);
  if (byAge !== 0) return byAge;
  return key(a.metadata) < key(b.metadata) ? -1 : key(a.metadata) > key(b.metadata) ? 1 : 0;
}
