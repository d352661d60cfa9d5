// The shapes of the objects the controller reads, as far as it reads them. Our own resources'
// specs come from internal/api; Gateway API and core objects are typed to the fields used.
import type { Condition } from "../api/condition.js";
import type { MCPGatewayExtensionSpec, MCPGatewayExtensionStatus } from "../api/mcp-gateway-extension.js";
import type { MCPServerRegistrationSpec, MCPServerRegistrationStatus } from "../api/mcp-server-registration.js";
import type { MCPVirtualServerSpec, MCPVirtualServerStatus } from "../api/mcp-virtual-server.js";

export interface Meta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string | Date;
  deletionTimestamp?: string | Date;
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface Resource<Spec, Status> {
  apiVersion?: string;
  kind?: string;
  metadata: Meta;
  spec: Spec;
  status?: Status;
}

export type MCPGatewayExtension = Resource<MCPGatewayExtensionSpec, MCPGatewayExtensionStatus>;
export type MCPServerRegistration = Resource<MCPServerRegistrationSpec, MCPServerRegistrationStatus>;
export type MCPVirtualServer = Resource<MCPVirtualServerSpec, MCPVirtualServerStatus>;

export interface ParentReference {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  sectionName?: string;
}

export interface Listener {
  name: string;
  allowedRoutes?: { namespaces?: { from?: "All" | "Same" | "Selector"; selector?: { matchLabels?: Record<string, string> } } };
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

export function key(meta: Meta): string {
  return `${meta.namespace ?? ""}/${meta.name}`;
}

export function time(value: string | Date | undefined): number {
  return value === undefined ? 0 : new Date(value).getTime();
}
