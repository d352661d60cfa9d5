// The registry each valid extension's broker serves: every registration resolved to that
// extension, every virtual server, and the extension's protected-resource metadata and ping interval. Ordered, so
// the same cluster state gives the same bytes: servers in the order given (claim order, oldest registration
// first, so a name clash can be settled by position), virtual servers by name.
import { stringify } from "yaml";
import type { OAuthProtectedResource } from "../contract/oauth-protected-resource.js";
import type { Registry } from "../contract/registry.js";
import type { Resolution } from "./registration-resolution.js";
import { olderFirst, type MCPGatewayExtension, type MCPVirtualServer } from "./resources.js";

export function buildRegistries(validExtensions: MCPGatewayExtension[], resolutions: Resolution[], virtualServers: MCPVirtualServer[]): Map<string, Registry> {
  const virtual = virtualServers
    .filter((vs) => !vs.metadata.deletionTimestamp)
    .map((vs) => ({ name: `${vs.metadata.namespace}/${vs.metadata.name}`, ...(vs.spec.description ? { description: vs.spec.description } : {}), tools: [...vs.spec.tools], prompts: [...(vs.spec.prompts ?? [])], resources: [...(vs.spec.resources ?? [])] }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const registries = new Map<string, Registry>();
  // One broker serves every extension of its namespace: the oldest extension that sets a value gives it.
  for (const extension of [...validExtensions].sort(olderFirst)) {
    const namespace = extension.metadata.namespace ?? "";
    const registry = registries.get(namespace) ?? { servers: [], virtualServers: virtual };
    registry.oauthProtectedResource ??= protectedResourceOf(extension);
    registry.backendPingIntervalSeconds ??= extension.spec.backendPingIntervalSeconds;
    registries.set(namespace, registry);
  }
  for (const resolution of resolutions) {
    if (!resolution.ok) continue;
    for (const namespace of resolution.namespaces) registries.get(namespace)?.servers.push(resolution.server);
  }
  return registries;
}

/** spec.oauthProtectedResource, its resource defaulting to the public host's /mcp endpoint. */
function protectedResourceOf(extension: MCPGatewayExtension): OAuthProtectedResource | undefined {
  const { oauthProtectedResource, publicHost } = extension.spec;
  if (!publicHost || oauthProtectedResource?.resource) return oauthProtectedResource;
  return { ...oauthProtectedResource, resource: `https://${publicHost}/mcp` };
}

export function renderRegistry(registry: Registry): string {
  return `# Written by mcp-gateway-controller from MCPServerRegistration, MCPVirtualServer and MCPGatewayExtension resources.\n${stringify(registry)}`;
}
