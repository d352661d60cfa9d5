// What the gateway tells a client at initialize (and at server/discover): the union of what the
// served upstreams offer, with listChanged everywhere because the gateway itself announces changes
// to the set of servers. Of the extensions, only tasks, which the gateway passes through.
import { TASKS_EXTENSION_ID_V2 } from "@modelcontextprotocol/ext-tasks/core/v2";
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

/**
 * For server/discover: the merged capabilities, and the tasks extension when an upstream of the
 * per-request era offers it (the extension exists only there, so initialize never offers it).
 */
export function perRequestCapabilities(catalog: Catalog): Record<string, unknown> {
  const capabilities = mergedCapabilities(catalog);
  if (catalog.served().some(({ discovery }) => discovery?.snapshot?.perRequestVersion && namesTasksExtension(discovery.snapshot.capabilities))) {
    capabilities.extensions = { [TASKS_EXTENSION_ID_V2]: {} };
  }
  return capabilities;
}

/** Whether a peer's capabilities (a server's, or a client's in `_meta`) name the tasks extension. */
export function namesTasksExtension(capabilities: Record<string, unknown>): boolean {
  const extensions = capabilities.extensions;
  return typeof extensions === "object" && extensions !== null && Object.hasOwn(extensions, TASKS_EXTENSION_ID_V2);
}

/** Capabilities without the tasks extension (the same object when they do not name it). */
export function withoutTasksExtension(capabilities: Record<string, unknown>): Record<string, unknown> {
  if (!namesTasksExtension(capabilities)) return capabilities;
  const extensions = { ...(capabilities.extensions as Record<string, unknown>) };
  delete extensions[TASKS_EXTENSION_ID_V2];
  const rest = { ...capabilities };
  delete rest.extensions;
  return Object.keys(extensions).length > 0 ? { ...rest, extensions } : rest;
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
