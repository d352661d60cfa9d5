// Applies registries to the running broker: starts, restarts and stops one discovery per
// enabled server, keeps the catalog rebuilt, and tells listeners which client-visible lists
// changed and which servers' connection settings were replaced.
import { EventEmitter } from "node:events";
import { Catalog } from "../catalog/catalog.js";
import type { Logger } from "../log/logger.js";
import type { Registry, RegistryServer, VirtualServer } from "../contract/registry.js";
import type { UpstreamConnector } from "../upstream/connector.js";
import { ServerDiscovery, type DiscoveryOptions } from "./server-discovery.js";

export type ListChange = "tools" | "prompts" | "resources";

interface DirectoryEvents {
  /** Client-visible lists that changed. */
  listChanged: [Set<ListChange>];
  /** Servers removed or whose url, credential or prefix changed: sessions opened to them are stale. */
  serversReplaced: [string[]];
  /** The catalog was rebuilt: some server's readiness, message or offer may have changed. */
  rebuilt: [];
}

/** A virtual server's lists as sets, for lookups on every request. */
export interface VirtualServerView {
  config: VirtualServer;
  tools: ReadonlySet<string>;
  prompts: ReadonlySet<string>;
  /** Resource URIs and URI templates. */
  resources: ReadonlySet<string>;
}

export class ServerDirectory extends EventEmitter<DirectoryEvents> {
  readonly catalog = new Catalog();
  private servers = new Map<string, { config: RegistryServer; discovery?: ServerDiscovery }>();
  private virtualServers = new Map<string, VirtualServerView>();
  /** True once a registry was applied; the broker reports ready from then on. */
  loaded = false;

  constructor(
    private readonly http: UpstreamConnector,
    private readonly options: DiscoveryOptions,
    private readonly log: Logger,
  ) {
    super();
  }

  apply(registry: Registry): void {
    const refreshIntervalMs = registry.backendPingIntervalSeconds !== undefined ? registry.backendPingIntervalSeconds * 1000 : this.options.refreshIntervalMs;
    const next = new Map<string, { config: RegistryServer; discovery?: ServerDiscovery }>();
    const replaced: string[] = [];
    const created: ServerDiscovery[] = [];
    for (const config of registry.servers) {
      const current = this.servers.get(config.name);
      if (current && JSON.stringify(current.config) === JSON.stringify(config)) {
        current.discovery?.setRefreshInterval(refreshIntervalMs);
        next.set(config.name, current);
        continue;
      }
      if (current) replaced.push(config.name);
      void current?.discovery?.stop();
      const discovery = config.enabled ? new ServerDiscovery(config, this.http, { ...this.options, refreshIntervalMs }, this.log, () => this.rebuild()) : undefined;
      if (discovery) created.push(discovery);
      next.set(config.name, { config, discovery });
    }
    for (const [name, current] of this.servers) {
      if (!next.has(name)) {
        replaced.push(name);
        void current.discovery?.stop();
      }
    }
    this.servers = next;
    this.virtualServers = new Map(
      registry.virtualServers.map((vs) => [vs.name, { config: vs, tools: new Set(vs.tools), prompts: new Set(vs.prompts), resources: new Set(vs.resources) }]),
    );
    this.catalog.setServers([...next.values()].map(({ config, discovery }) => ({ server: config, discovery })));
    this.loaded = true;
    if (replaced.length > 0) this.emit("serversReplaced", replaced);
    this.rebuild();
    for (const discovery of created) discovery.start();
  }

  virtualServer(name: string): VirtualServerView | undefined {
    return this.virtualServers.get(name);
  }

  server(name: string): RegistryServer | undefined {
    return this.servers.get(name)?.config;
  }

  discovery(serverName: string): ServerDiscovery | undefined {
    return this.servers.get(serverName)?.discovery;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.servers.values()].map(({ discovery }) => discovery?.stop()));
  }

  private rebuild(): void {
    const changed = this.catalog.rebuild();
    if (changed.size > 0) this.emit("listChanged", changed);
    this.emit("rebuilt");
  }
}
