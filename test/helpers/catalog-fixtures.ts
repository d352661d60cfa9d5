// What the catalog is built from, written by hand for in-process tests: registry entries and the
// discovery state of each (a snapshot as an upstream would have listed it).
import type { DiscoveryState } from "../../internal/catalog/catalog.js";
import type { ServerSnapshot } from "../../internal/catalog/snapshot.js";
import { RegistryServerSchema, type RegistryServer } from "../../internal/contract/registry.js";

export function registryServer(name: string, toolPrefix = ""): RegistryServer {
  return RegistryServerSchema.parse({ name, url: `http://127.0.0.1:1/${name}`, toolPrefix });
}

export function snapshot(tools: string[], templates: string[] = [], resources: string[] = [], prompts: string[] = []): ServerSnapshot {
  return {
    protocolVersion: "2025-06-18",
    capabilities: { tools: {}, resources: {}, prompts: {} },
    tools: tools.map((name) => ({ name, inputSchema: { type: "object" } })),
    prompts: prompts.map((name) => ({ name })),
    resources: resources.map((uri) => ({ uri, name: uri })),
    resourceTemplates: templates.map((uriTemplate) => ({ uriTemplate, name: uriTemplate })),
  };
}

/** A server's discovery as the test sets it: ready with a snapshot, or failed. */
export class StaticDiscovery implements DiscoveryState {
  phase: DiscoveryState["phase"] = "ready";
  constructor(public snapshot?: ServerSnapshot) {}
  fail(): void {
    this.phase = "failed";
    this.snapshot = undefined;
  }
}
