// The registry each valid extension's broker serves: every registration resolved to that
// extension, and every virtual server. Sorted, so the same cluster state gives the same bytes.
import { stringify } from "yaml";
import type { Registry } from "../registry/schema.js";
import type { Resolution } from "./registration-resolution.js";
import type { MCPVirtualServer } from "./resources.js";

export function buildRegistries(extensionNamespaces: string[], resolutions: Resolution[], virtualServers: MCPVirtualServer[]): Map<string, Registry> {
  const virtual = virtualServers
    .filter((vs) => !vs.metadata.deletionTimestamp)
    .map((vs) => ({ name: `${vs.metadata.namespace}/${vs.metadata.name}`, ...(vs.spec.description ? { description: vs.spec.description } : {}), tools: [...vs.spec.tools] }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const registries = new Map<string, Registry>(extensionNamespaces.map((namespace) => [namespace, { servers: [], virtualServers: virtual }]));
  for (const resolution of resolutions) {
    if (!resolution.ok) continue;
    for (const namespace of resolution.namespaces) registries.get(namespace)?.servers.push(resolution.server);
  }
  for (const registry of registries.values()) registry.servers.sort((a, b) => a.name.localeCompare(b.name));
  return registries;
}

export function renderRegistry(registry: Registry): string {
  return `# Written by mcp-gateway-controller from MCPServerRegistration and MCPVirtualServer resources.\n${stringify(registry)}`;
}
