// Turns an MCPServerRegistration into registry entries: HTTPRoute -> its accepted parent
// Gateways -> a valid extension for one of them -> the route's hostname and its backend's URL,
// plus the credential from the referenced Secret. Every way this can fail has its own message.
// A registration names one route (targetRef) or selects routes by label (routeSelector): each
// selected route is a server of its own, with a prefix of its own.
import { z } from "zod";
import { GATEWAY_API_GROUP, GROUP } from "../api/group.js";
import { parse as parseYaml } from "yaml";
import { MCPServerRegistrationSpecSchema, ROUTE_TOOL_PREFIX_ANNOTATION, TOOL_PREFIX_PATTERN, type MCPServerRegistrationSpec } from "../api/mcp-server-registration.js";
import type { OpenApiSource, RegistryServer } from "../contract/registry.js";
import type { ClusterView } from "./cluster-view.js";
import { gatewayKeyOf } from "./extension-validation.js";
import { selects } from "./label-selector.js";
import { referenceAllowed } from "./reference-grants.js";
import { olderFirst, type ConfigMap, type HTTPRoute, type MCPGatewayExtension, type MCPServerRegistration } from "./resources.js";

export const RegistrationReason = {
  Ready: "Ready",
  NotReady: "NotReady",
  ReferenceGrantRequired: "ReferenceGrantRequired",
  PrefixConflict: "PrefixConflict",
} as const;

export type Served = { ok: true; server: RegistryServer; namespaces: string[] };
export type Resolution = Served | { ok: false; reason: (typeof RegistrationReason)[keyof typeof RegistrationReason]; message: string };

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

/** One server a selecting registration asks for: the route it is reached through, its prefix, and what became of it. */
export interface SelectedServer {
  route: string;
  toolPrefix: string;
  resolution: Resolution;
}

/** What a registration asks for: one server (targetRef), one per selected route (routeSelector), or nothing (a spec that does not parse). */
export type Registered = { mode: "target"; resolution: Resolution } | { mode: "selector"; servers: SelectedServer[] } | { mode: "invalid"; resolution: Resolution };

function parseSpec(registration: MCPServerRegistration): { spec: MCPServerRegistrationSpec } | { invalid: Resolution } {
  const parsed = MCPServerRegistrationSpecSchema.safeParse(registration.spec);
  if (!parsed.success) return { invalid: notReady(`invalid spec: ${z.prettifyError(parsed.error).replaceAll("\n", "; ")}`) };
  if (Boolean(parsed.data.targetRef) === Boolean(parsed.data.routeSelector)) return { invalid: notReady("invalid spec: exactly one of targetRef and routeSelector must be set") };
  return { spec: parsed.data };
}

/** The registration with a targetRef, resolved to its one server. */
export function resolveRegistration(registration: MCPServerRegistration, view: ClusterView, validExtensions: MCPGatewayExtension[]): Resolution {
  const registered = resolveRegistered(registration, view, validExtensions);
  if (registered.mode === "selector") return notReady("the registration selects routes by label: see status.servers");
  return registered.resolution;
}

export function resolveRegistered(registration: MCPServerRegistration, view: ClusterView, validExtensions: MCPGatewayExtension[]): Registered {
  const parsed = parseSpec(registration);
  if ("invalid" in parsed) return { mode: "invalid", resolution: parsed.invalid };
  const { spec } = parsed;
  const namespace = registration.metadata.namespace ?? "";
  const name = `${namespace}/${registration.metadata.name}`;
  if (spec.targetRef) {
    const target = { namespace: spec.targetRef.namespace ?? namespace, name: spec.targetRef.name };
    return { mode: "target", resolution: resolveRoute(registration, spec, target, { name, toolPrefix: spec.toolPrefix ?? "" }, view, validExtensions) };
  }
  const selected = view
    .routes(namespace)
    .filter((route) => selects(spec.routeSelector ?? {}, route.metadata.labels))
    .sort(olderFirst);
  return {
    mode: "selector",
    servers: selected.map((route) => {
      const toolPrefix = route.metadata.annotations?.[ROUTE_TOOL_PREFIX_ANNOTATION] ?? `${spec.toolPrefix ?? ""}${route.metadata.name.replace(/[^A-Za-z0-9_-]/g, "_")}_`;
      const target = { namespace, name: route.metadata.name };
      const resolution = PREFIX.test(toolPrefix)
        ? resolveRoute(registration, spec, target, { name: `${name}/${route.metadata.name}`, toolPrefix }, view, validExtensions)
        : notReady(`annotation ${ROUTE_TOOL_PREFIX_ANNOTATION} of HTTPRoute ${namespace}/${route.metadata.name} must match ${TOOL_PREFIX_PATTERN} and have at most ${MAX_PREFIX_LENGTH} characters`);
      return { route: route.metadata.name, toolPrefix, resolution };
    }),
  };
}

const MAX_PREFIX_LENGTH = 64;
const PREFIX = new RegExp(`(?=^.{0,${MAX_PREFIX_LENGTH}}$)${TOOL_PREFIX_PATTERN}`);

function resolveRoute(
  registration: MCPServerRegistration,
  spec: MCPServerRegistrationSpec,
  target: { namespace: string; name: string },
  server: { name: string; toolPrefix: string },
  view: ClusterView,
  validExtensions: MCPGatewayExtension[],
): Resolution {
  const namespace = registration.metadata.namespace ?? "";
  const routeNamespace = target.namespace;
  const routeName = `${routeNamespace}/${target.name}`;
  if (!referenceAllowed(view.referenceGrants(), { group: GROUP, kind: "MCPServerRegistration", namespace }, { group: GATEWAY_API_GROUP, kind: "HTTPRoute", name: target.name, namespace: routeNamespace })) {
    return grantRequired(`a ReferenceGrant in namespace ${routeNamespace} must allow MCPServerRegistration from namespace ${namespace} to reference HTTPRoute ${target.name}`);
  }
  const route = view.route(routeNamespace, target.name);
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
  const openapi = spec.openapi && openApiSource(spec.openapi, namespace, view);
  if (openapi && "invalid" in openapi) return notReady(openapi.invalid);

  return {
    ok: true,
    server: {
      name: server.name,
      url: `${scheme}://${host}:${port}${spec.path}`,
      hostname,
      toolPrefix: server.toolPrefix,
      ...(spec.transport === undefined ? {} : { transport: spec.transport }),
      ...(openapi === undefined ? {} : { openapi }),
      ...(credential === undefined ? {} : { credential }),
      forwardClientAuthorization: false,
      enabled: true,
    },
    namespaces: [...new Set(extensions.map((extension) => extension.metadata.namespace ?? ""))].sort(),
  };
}

/**
 * Where the broker finds the OpenAPI document: a path on the backend as is, or the document of a ConfigMap, parsed
 * here (JSON is YAML) so that a broken one is this registration's message and the broker gets an object, never
 * text it could take for a file path.
 */
function openApiSource(openapi: NonNullable<MCPServerRegistrationSpec["openapi"]>, namespace: string, view: ClusterView): OpenApiSource | { invalid: string } {
  if (!openapi.configMapRef) return { documentPath: openapi.documentPath };
  const { name, key } = openapi.configMapRef;
  const configMap = view.configMap(namespace, name);
  if (!configMap) return { invalid: `OpenAPI ConfigMap ${namespace}/${name} not found` };
  const parsed = parsedDocuments.get(configMap) ?? new Map<string, OpenApiSource | { invalid: string }>();
  parsedDocuments.set(configMap, parsed);
  let source = parsed.get(key);
  if (!source) {
    source = parseDocument(configMap.data?.[key], `OpenAPI ConfigMap ${namespace}/${name}`, key);
    parsed.set(key, source);
  }
  return source;
}

/** Every reconcile resolves every registration: each version of a ConfigMap (a new object in the cache) is parsed once. */
const parsedDocuments = new WeakMap<ConfigMap, Map<string, OpenApiSource | { invalid: string }>>();

function parseDocument(text: string | undefined, what: string, key: string): OpenApiSource | { invalid: string } {
  if (text === undefined) return { invalid: `${what} has no key ${key}` };
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (err) {
    return { invalid: `${what} key ${key} is not JSON or YAML: ${(err as Error).message.split("\n")[0]}` };
  }
  if (typeof document !== "object" || document === null || Array.isArray(document)) return { invalid: `${what} key ${key} is not a JSON or YAML object` };
  return { document: document as Record<string, unknown> };
}
