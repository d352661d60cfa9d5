// What the gateway tells a client at initialize: the union of what the served upstreams offer,
// with listChanged everywhere because the gateway itself announces changes to the set of servers.
import type { Catalog } from "../catalog/catalog.js";

export function mergedCapabilities(catalog: Catalog): Record<string, unknown> {
  const capabilities: Record<string, unknown> = { tools: { listChanged: true } };
  let subscribe = false;
  for (const { discovery } of catalog.served()) {
    const offered = discovery?.snapshot?.capabilities ?? {};
    if (offered.prompts) capabilities.prompts = { listChanged: true };
    if (offered.resources) {
      subscribe ||= Boolean((offered.resources as { subscribe?: boolean }).subscribe);
      capabilities.resources = { listChanged: true, subscribe };
    }
    if (offered.completions) capabilities.completions = {};
    if (offered.logging) capabilities.logging = {};
  }
  return capabilities;
}

/** Each server's instructions under its name, so a model knows which tools they speak of. */
export function mergedInstructions(catalog: Catalog): string | undefined {
  const parts: string[] = [];
  for (const { server, discovery } of catalog.served()) {
    const text = discovery?.snapshot?.instructions;
    if (text) parts.push(`## ${server.name}${server.toolPrefix ? ` (tools prefixed ${server.toolPrefix})` : ""}\n${text}`);
  }
  return parts.length > 0 ? parts.join("\n\n") : undefined;
}
