// The aggregated view over every upstream server: tools and prompts under their prefixed names,
// resources by URI, and which server owns each. Rebuilt whenever any server's discovery
// changes; lookups and list pages are served from here without touching an upstream.
//
// Clashes are settled by configuration, never by timing: the server earlier in the registry keeps
// a name (the operator refuses overlapping prefixes outright and lists servers oldest
// registration first), and it keeps it while it is down, so a tenant cannot take over another's tools by waiting for that
// one's upstream to restart. A URI that several resource templates match goes to the most
// specific template.
import type { Prompt, Resource, ResourceTemplate, ServerSnapshot, Tool } from "./snapshot.js";
import type { RegistryServer } from "../contract/registry.js";
import { MAX_CLIENT_NAME_LENGTH, namesTooLong } from "../contract/tool-names.js";
import { compileUriTemplate, literalPrefix, templateSpecificity } from "./uri-template.js";

/** What the catalog reads of a server's discovery: where it stands and what it last listed. */
export interface DiscoveryState {
  readonly phase: "connecting" | "ready" | "failed";
  readonly snapshot?: ServerSnapshot;
  readonly error?: string;
  readonly lastChecked?: Date;
}

/** Where an exposed name or URI leads. */
export interface Route {
  server: RegistryServer;
  /** The name or URI as the upstream knows it. */
  upstreamName: string;
}

export type ListKind = "tools" | "prompts" | "resources" | "resourceTemplates";

export interface ServerStatus {
  name: string;
  toolPrefix: string;
  hostname: string;
  /** How the broker reaches the server (the registry's `transport`). */
  transport: string;
  /** For `auto`: the transport it detected, once discovery got through. */
  detectedTransport?: string;
  ready: boolean;
  message: string;
  totalTools: number;
  totalPrompts: number;
  totalResources: number;
  totalResourceTemplates: number;
  protocolVersion?: string;
  /** Set when the server also (or only) speaks the per-request era: 2026-07-28 requests reach it per request, without a session. */
  perRequestVersion?: string;
  conflicts: string[];
  warnings: string[];
  lastValidated?: string;
}

interface Entry {
  server: RegistryServer;
  discovery?: DiscoveryState;
  /** The exposed tool and prompt names of its last good discovery: held for it while it is down. */
  claimed: Set<string>;
}

interface Template {
  pattern: RegExp;
  uriTemplate: string;
  /** Literal characters: of two matching templates, the one with more is more specific. */
  specificity: number;
  route: Route;
}

export class Catalog {
  /** In registry order: on a clash the earlier one keeps its names. */
  private entries: Entry[] = [];
  private tools = new Map<string, Route>();
  private prompts = new Map<string, Route>();
  private resources = new Map<string, Route>();
  /** Most specific first. */
  private templates: Template[] = [];
  private lists: Record<ListKind, Array<Record<string, unknown>>> = { tools: [], prompts: [], resources: [], resourceTemplates: [] };
  private signatures: Record<ListKind, string> = { tools: "[]", prompts: "[]", resources: "[]", resourceTemplates: "[]" };
  private statuses: ServerStatus[] = [];
  private servedServers: Entry[] = [];
  /** Bumped on every rebuild that changed a list; pages cached under an older version are stale. */
  version = 0;

  /** Replaces the set of servers (registry change). */
  setServers(servers: Array<{ server: RegistryServer; discovery?: DiscoveryState }>): void {
    const previous = new Map(this.entries.map((entry) => [entry.server.name, entry]));
    this.entries = servers.map(({ server, discovery }) => {
      const before = previous.get(server.name);
      // A new prefix makes new names: the old claim goes with it.
      const claimed = before && before.server.toolPrefix === server.toolPrefix ? before.claimed : new Set<string>();
      return { server, discovery, claimed };
    });
  }

  /**
   * Recomputes every list and route. Returns which client-visible lists changed, so that
   * clients are told with notifications/<kind>/list_changed.
   */
  rebuild(): Set<"tools" | "prompts" | "resources"> {
    const tools = new Map<string, Route>();
    const prompts = new Map<string, Route>();
    const resources = new Map<string, Route>();
    const templates: Template[] = [];
    /** Names held by earlier servers, served or down: exposed name -> holder. */
    const held = new Map<string, string>();
    const lists: Catalog["lists"] = { tools: [], prompts: [], resources: [], resourceTemplates: [] };
    const statuses: ServerStatus[] = [];
    const served: Entry[] = [];

    for (const entry of this.entries) {
      const { server, discovery } = entry;
      const snapshot = discovery?.phase === "ready" ? discovery.snapshot : undefined;
      const status: ServerStatus = {
        name: server.name,
        toolPrefix: server.toolPrefix,
        hostname: server.hostname,
        transport: server.transport ?? "streamable-http",
        ...(server.transport === "auto" && snapshot?.transport ? { detectedTransport: snapshot.transport } : {}),
        ready: false,
        message: describePhase(server, discovery),
        totalTools: snapshot?.tools.length ?? 0,
        totalPrompts: snapshot?.prompts.length ?? 0,
        totalResources: snapshot?.resources.length ?? 0,
        totalResourceTemplates: snapshot?.resourceTemplates.length ?? 0,
        protocolVersion: snapshot?.protocolVersion,
        perRequestVersion: snapshot?.perRequestVersion,
        conflicts: [],
        warnings: [],
        lastValidated: discovery?.lastChecked?.toISOString(),
      };
      statuses.push(status);
      if (!snapshot) {
        // Down (or disabled): its names stay its own until it is removed from the registry.
        if (server.enabled) for (const name of entry.claimed) if (!held.has(name)) held.set(name, server.name);
        continue;
      }

      const prefix = server.toolPrefix;
      const exposedTools = snapshot.tools.map((tool) => prefix + tool.name);
      const exposedPrompts = snapshot.prompts.map((prompt) => prefix + prompt.name);
      status.conflicts = [...exposedTools, ...exposedPrompts].filter((name) => held.has(name));
      if (status.conflicts.length > 0) {
        const owners = new Set(status.conflicts.map((name) => held.get(name)));
        status.message = `conflicting tools discovered: ${status.conflicts.join(", ")} (already served by ${[...owners].join(", ")})`;
        continue;
      }
      entry.claimed = new Set([...exposedTools, ...exposedPrompts]);
      for (const name of entry.claimed) held.set(name, server.name);
      status.ready = true;
      status.message = `server added successfully. Total tools added ${snapshot.tools.length}`;
      status.warnings = namesTooLong([...exposedTools, ...exposedPrompts]).map((name) => `name longer than ${MAX_CLIENT_NAME_LENGTH} characters: ${name}`);
      served.push(entry);
      snapshot.tools.forEach((tool: Tool, i) => {
        const name = exposedTools[i] as string;
        tools.set(name, { server, upstreamName: tool.name });
        lists.tools.push(prefix ? { ...tool, name } : tool);
      });
      snapshot.prompts.forEach((prompt: Prompt, i) => {
        const name = exposedPrompts[i] as string;
        prompts.set(name, { server, upstreamName: prompt.name });
        lists.prompts.push(prefix ? { ...prompt, name } : prompt);
      });
      for (const resource of snapshot.resources as Resource[]) {
        // URIs are not prefixed; a URI two servers list stays with the earlier one.
        if (resources.has(resource.uri)) {
          status.warnings.push(`resource ${resource.uri} is also listed by ${resources.get(resource.uri)?.server.name}; not routed here`);
          continue;
        }
        resources.set(resource.uri, { server, upstreamName: resource.uri });
        lists.resources.push(resource);
      }
      for (const template of snapshot.resourceTemplates as ResourceTemplate[]) {
        const prefixOfThis = literalPrefix(template.uriTemplate);
        // Templates of other servers that can match the same URIs: reported, and the most specific wins.
        for (const other of templates) {
          if (other.route.server.name === server.name) continue;
          const prefixOfOther = literalPrefix(other.uriTemplate);
          if (prefixOfThis.startsWith(prefixOfOther) || prefixOfOther.startsWith(prefixOfThis)) {
            status.warnings.push(`resource template ${template.uriTemplate} overlaps ${other.uriTemplate} of ${other.route.server.name}; a URI both match goes to the more specific one`);
          }
        }
        templates.push({
          pattern: compileUriTemplate(template.uriTemplate),
          uriTemplate: template.uriTemplate,
          specificity: templateSpecificity(template.uriTemplate),
          route: { server, upstreamName: template.uriTemplate },
        });
        lists.resourceTemplates.push(template);
      }
    }

    this.tools = tools;
    this.prompts = prompts;
    this.resources = resources;
    // Stable: of equally specific templates the earlier server's comes first.
    this.templates = templates.sort((a, b) => b.specificity - a.specificity);
    this.statuses = statuses.sort((a, b) => a.name.localeCompare(b.name));
    this.servedServers = served;
    const changed = new Set<"tools" | "prompts" | "resources">();
    for (const kind of ["tools", "prompts", "resources", "resourceTemplates"] as const) {
      const signature = JSON.stringify(lists[kind]);
      if (signature !== this.signatures[kind]) changed.add(kind === "resourceTemplates" ? "resources" : kind);
      this.signatures[kind] = signature;
    }
    this.lists = lists;
    if (changed.size > 0) this.version++;
    return changed;
  }

  list(kind: ListKind): ReadonlyArray<Record<string, unknown>> {
    return this.lists[kind];
  }

  /** Exposed tool names of every served server. */
  toolNamesByServer(): Map<string, string[]> {
    const names = new Map<string, string[]>();
    for (const [name, route] of this.tools) {
      const list = names.get(route.server.name);
      if (list) list.push(name);
      else names.set(route.server.name, [name]);
    }
    return names;
  }

  findTool(name: string): Route | undefined {
    return this.tools.get(name);
  }

  findPrompt(name: string): Route | undefined {
    return this.prompts.get(name);
  }

  /** A listed resource first, then the most specific template that matches. */
  findResource(uri: string): Route | undefined {
    return this.resources.get(uri) ?? this.templates.find((template) => template.pattern.test(uri))?.route;
  }

  /** A completion reference to a template names the template itself. */
  findTemplate(uriTemplate: string): Route | undefined {
    return this.templates.find((template) => template.uriTemplate === uriTemplate)?.route ?? this.resources.get(uriTemplate);
  }

  /** Servers whose entries are served now, for merging capabilities and instructions. */
  served(): ReadonlyArray<{ server: RegistryServer; discovery?: DiscoveryState }> {
    return this.servedServers;
  }

  status(): ServerStatus[] {
    return this.statuses;
  }
}

function describePhase(server: RegistryServer, discovery: DiscoveryState | undefined): string {
  if (!server.enabled) return "server disabled";
  if (!discovery || discovery.phase === "connecting") return "connecting";
  if (discovery.phase === "failed") return discovery.error ?? "unavailable";
  return "ready";
}
