// Turns an MCPServerRegistration into a registry entry: HTTPRoute -> its accepted parent
// Gateways -> a valid extension for one of them -> the route's hostname and its backend's URL,
// plus the credential from the referenced Secret. Every way this can fail has its own message.
import { z } from "zod";
import { GATEWAY_API_GROUP, GROUP } from "../api/group.js";
import { MCPServerRegistrationSpecSchema } from "../api/mcp-server-registration.js";
import type { RegistryServer } from "../registry/schema.js";
import type { ClusterView } from "./cluster-view.js";
import { gatewayKeyOf } from "./extension-validation.js";
import { referenceAllowed } from "./reference-grants.js";
import type { HTTPRoute, MCPGatewayExtension, MCPServerRegistration } from "./resources.js";

export const RegistrationReason = {
  Ready: "Ready",
  NotReady: "NotReady",
  ReferenceGrantRequired: "ReferenceGrantRequired",
} as const;

export type Resolution =
  | { ok: true; server: RegistryServer; namespaces: string[] }
  | { ok: false; reason: (typeof RegistrationReason)[keyof typeof RegistrationReason]; message: string };

const HTTPS_PROTOCOLS = new Set(["https", "kubernetes.io/https"]);

function notReady(message: string): Resolution {
  return { ok: false, reason: RegistrationReason.NotReady, message };
}

function grantRequired(message: string): Resolution {
  return { ok: false, reason: RegistrationReason.ReferenceGrantRequired, message };
}

/** Gateways (namespace/name) that accepted the route, per the route's status. */
function acceptedGateways(route: HTTPRoute): Set<string> {
  const routeNamespace = route.metadata.namespace ?? "";
  const accepted = new Set<string>();
  for (const parent of route.status?.parents ?? []) {
    const ref = parent.parentRef;
    if ((ref.kind ?? "Gateway") !== "Gateway" || (ref.group ?? GATEWAY_API_GROUP) !== GATEWAY_API_GROUP) continue;
    if (parent.conditions?.some((condition) => condition.type === "Accepted" && condition.status === "True")) accepted.add(`${ref.namespace ?? routeNamespace}/${ref.name}`);
  }
  return accepted;
}

export function resolveRegistration(registration: MCPServerRegistration, view: ClusterView, validExtensions: MCPGatewayExtension[]): Resolution {
  const namespace = registration.metadata.namespace ?? "";
  const parsed = MCPServerRegistrationSpecSchema.safeParse(registration.spec);
  if (!parsed.success) return notReady(`invalid spec: ${z.prettifyError(parsed.error).replaceAll("\n", "; ")}`);
  const spec = parsed.data;
  const routeNamespace = spec.targetRef.namespace ?? namespace;
  const routeName = `${routeNamespace}/${spec.targetRef.name}`;
  if (!referenceAllowed(view.referenceGrants(), { group: GROUP, kind: "MCPServerRegistration", namespace }, { group: GATEWAY_API_GROUP, kind: "HTTPRoute", name: spec.targetRef.name, namespace: routeNamespace })) {
    return grantRequired(`a ReferenceGrant in namespace ${routeNamespace} must allow MCPServerRegistration from namespace ${namespace} to reference HTTPRoute ${spec.targetRef.name}`);
  }
  const route = view.route(routeNamespace, spec.targetRef.name);
  if (!route) return notReady(`HTTPRoute ${routeName} not found`);
  const hostname = route.spec.hostnames?.[0];
  if (!hostname) return notReady(`HTTPRoute ${routeName} has no hostname`);
  const rules = route.spec.rules ?? [];
  if (rules.length !== 1) return notReady(`HTTPRoute ${routeName} must have exactly one rule, has ${rules.length}`);
  const backends = rules[0]?.backendRefs ?? [];
  if (backends.length === 0) return notReady(`HTTPRoute ${routeName} has no backendRefs`);
  if (backends.length > 1) return notReady(`HTTPRoute ${routeName} must have exactly one backendRef, has ${backends.length}`);

  const accepted = acceptedGateways(route);
  if (accepted.size === 0) return notReady("no valid gateways for httproute");
  const extensions = validExtensions.filter((extension) => accepted.has(gatewayKeyOf(extension)));
  if (extensions.length === 0) return notReady("no valid mcpgatewayextensions configured");

  const backend = backends[0]!;
  if ((backend.group ?? "") !== "" || (backend.kind ?? "Service") !== "Service") return notReady(`backendRef kind ${backend.group}/${backend.kind} is not supported; use a Service`);
  const serviceNamespace = backend.namespace ?? routeNamespace;
  if (!referenceAllowed(view.referenceGrants(), { group: GATEWAY_API_GROUP, kind: "HTTPRoute", namespace: routeNamespace }, { group: "", kind: "Service", name: backend.name, namespace: serviceNamespace })) {
    return grantRequired(`a ReferenceGrant in namespace ${serviceNamespace} must allow HTTPRoute from namespace ${routeNamespace} to reference Service ${backend.name}`);
  }
  const service = view.service(serviceNamespace, backend.name);
  if (!service) return notReady(`backend Service ${serviceNamespace}/${backend.name} not found`);
  const ports = service.spec?.ports ?? [];
  const port = backend.port ?? ports[0]?.port;
  if (port === undefined) return notReady(`backendRef to Service ${serviceNamespace}/${backend.name} has no port`);
  const servicePort = ports.find((candidate) => candidate.port === port);
  const scheme = HTTPS_PROTOCOLS.has(servicePort?.appProtocol ?? "") || servicePort?.name === "https" ? "https" : "http";
  const host = service.spec?.type === "ExternalName" ? service.spec.externalName : `${backend.name}.${serviceNamespace}.svc.cluster.local`;
  if (!host) return notReady(`ExternalName Service ${serviceNamespace}/${backend.name} has no externalName`);

  let credential: string | undefined;
  if (spec.credentialRef) {
    const secret = view.secret(namespace, spec.credentialRef.name);
    if (!secret) return notReady(`credential secret ${namespace}/${spec.credentialRef.name} not found`);
    const value = secret.data?.[spec.credentialRef.key];
    if (value === undefined) return notReady(`credential secret ${namespace}/${spec.credentialRef.name} has no key ${spec.credentialRef.key}`);
    credential = Buffer.from(value, "base64").toString("utf8").trim();
  }

  return {
    ok: true,
    server: {
      name: `${namespace}/${registration.metadata.name}`,
      url: `${scheme}://${host}:${port}${spec.path}`,
      hostname,
      toolPrefix: spec.toolPrefix ?? "",
      ...(spec.transport === undefined ? {} : { transport: spec.transport }),
      ...(spec.openapi === undefined ? {} : { openapi: spec.openapi }),
      ...(credential === undefined ? {} : { credential }),
      forwardClientAuthorization: false,
      enabled: true,
    },
    namespaces: [...new Set(extensions.map((extension) => extension.metadata.namespace ?? ""))].sort(),
  };
}
