// Reads the registry from a Kubernetes Secret through the API (a watch), so changes reach the
// broker in well under a second instead of waiting for the kubelet to sync a mounted file.
import type { KubeConfig } from "@kubernetes/client-node";
import { WatchedSecret } from "../kube/watched-secret.js";
import type { Logger } from "../log/logger.js";
import { parseRegistry } from "./parse.js";
import { EMPTY_REGISTRY, REGISTRY_SECRET_KEY, type Registry } from "../contract/registry.js";
import type { RegistrySource } from "./source.js";


/** What the Secret held when last looked at, besides the text of its key. */
const ABSENT = Symbol("no Secret");
const NO_KEY = Symbol(`no ${REGISTRY_SECRET_KEY}`);

export class SecretRegistrySource implements RegistrySource {
  private readonly secret: WatchedSecret;
  private lastSeen?: string | typeof ABSENT | typeof NO_KEY;
  /** True once a registry from the Secret is in force: from then on only a valid one replaces it. */
  private loaded = false;

  constructor(
    kc: KubeConfig,
    namespace: string,
    name: string,
    private readonly log: Logger,
  ) {
    this.secret = new WatchedSecret(kc, namespace, name, log);
  }

  async start(onRegistry: (registry: Registry) => void): Promise<void> {
    const where = this.secret.where;
    await this.secret.start((secret) => {
      const encoded = secret?.data?.[REGISTRY_SECRET_KEY];
      const seen = !secret ? ABSENT : encoded === undefined ? NO_KEY : Buffer.from(encoded, "base64").toString("utf8");
      if (seen === this.lastSeen) return;
      this.lastSeen = seen;
      if (seen === ABSENT && !this.loaded) {
        // No Secret yet (no registration resolved so far) is an empty registry, not an error.
        this.log.info({ secret: where }, "registry Secret absent; serving no servers");
        onRegistry(EMPTY_REGISTRY);
        return;
      }
      if (seen === ABSENT) {
        // The controller empties a registry it no longer needs, it never deletes it: a deletion is an accident
        // the controller repairs, and dropping every server (and every session's upstream sessions) meanwhile
        // would turn it into an outage.
        this.log.error({ secret: where }, "registry Secret deleted; keeping the last good registry");
        return;
      }
      try {
        if (seen === NO_KEY) throw new Error(`registry Secret has no key ${REGISTRY_SECRET_KEY}`);
        const registry = parseRegistry(seen);
        this.log.info({ secret: where, servers: registry.servers.length, virtualServers: registry.virtualServers.length }, "registry loaded");
        this.loaded = true;
        onRegistry(registry);
      } catch (err) {
        this.log.error({ secret: where, err: (err as Error).message }, "registry rejected; keeping the last good registry");
      }
    });
  }

  stop(): void {
    this.secret.stop();
  }
}
