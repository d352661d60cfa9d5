// Watches a registry file. A change is applied within a second; a broken file is reported and
// the last good registry stays in force, so one bad edit never takes the gateway down.
import { watch, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname } from "node:path";
import type { Logger } from "../log/logger.js";
import { parseRegistry } from "./parse.js";
import type { Registry } from "../contract/registry.js";
import type { RegistrySource } from "./source.js";

/** Editors and Kubernetes Secret mounts replace files by rename; a short pause lets that settle. */
const SETTLE_MS = 50;
/** A safety net for filesystems where inotify events do not arrive (some network mounts). */
const POLL_MS = 2_000;

export class FileRegistrySource implements RegistrySource {
  private watcher?: FSWatcher;
  private poller?: NodeJS.Timeout;
  private settleTimer?: NodeJS.Timeout;
  private lastText?: string;
  private onRegistry: (registry: Registry) => void = () => {};

  constructor(
    private readonly path: string,
    private readonly log: Logger,
  ) {}

  async start(onRegistry: (registry: Registry) => void): Promise<void> {
    this.onRegistry = onRegistry;
    await this.reload();
    // Watching the directory catches atomic replaces (rename over) and Secret-mount symlink swaps.
    this.watcher = watch(dirname(this.path), (_event, file) => {
      if (file === null || file === basename(this.path) || file.startsWith("..")) this.scheduleReload();
    });
    this.watcher.on("error", (err) => this.log.warn({ err: err.message }, "registry watch failed; polling only"));
    this.poller = setInterval(() => void this.reload(), POLL_MS);
    this.poller.unref();
  }

  stop(): void {
    this.watcher?.close();
    clearInterval(this.poller);
    clearTimeout(this.settleTimer);
  }

  private scheduleReload(): void {
    clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => void this.reload(), SETTLE_MS);
  }

  private async reload(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (err) {
      if (this.lastText !== "") this.log.error({ path: this.path, err: (err as Error).message }, "cannot read registry file; keeping the last good registry");
      this.lastText = "";
      return;
    }
    if (text === this.lastText) return;
    this.lastText = text;
    try {
      const registry = parseRegistry(text);
      this.log.info({ path: this.path, servers: registry.servers.length, virtualServers: registry.virtualServers.length }, "registry loaded");
      this.onRegistry(registry);
    } catch (err) {
      this.log.error({ path: this.path, err: (err as Error).message }, "registry rejected; keeping the last good registry");
    }
  }
}
