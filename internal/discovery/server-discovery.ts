// Keeps the broker's picture of one upstream server current: a discovery session that lists
// tools, prompts, resources and templates across all pages, refreshes at once on any
// list_changed notification and on an interval, and on failure drops everything the server
// offered and reconnects with backoff.
import type { Logger } from "../log/logger.js";
import type { JsonRpcMessage } from "../mcp/jsonrpc.js";
import { GATEWAY_INFO, LATEST_PROTOCOL_VERSION, Method, Notification } from "../mcp/protocol.js";
import type { RegistryServer } from "../contract/registry.js";
import { describeUpstreamError, UpstreamProtocolError } from "../upstream/errors.js";
import { upstreamTarget, type UpstreamConnector } from "../upstream/connector.js";
import { UpstreamSession } from "../upstream/session.js";
import { Backoff, type BackoffOptions } from "../retry/backoff.js";
import type { ServerSnapshot } from "../catalog/snapshot.js";

export type DiscoveryPhase = "connecting" | "ready" | "failed";

export interface DiscoveryOptions {
  /** The --refresh-interval-seconds default; a registry's backendPingIntervalSeconds replaces it. */
  refreshIntervalMs: number;
  requestTimeoutMs: number;
  backoff: BackoffOptions;
  /** Upper bound on pages per list, against an upstream that hands out cursors forever. */
  maxPages: number;
}

const LISTS = [
  { method: Method.ToolsList, key: "tools", capability: "tools" },
  { method: Method.PromptsList, key: "prompts", capability: "prompts" },
  { method: Method.ResourcesList, key: "resources", capability: "resources" },
  { method: Method.ResourceTemplatesList, key: "resourceTemplates", capability: "resources" },
] as const;

const CHECK_NOW_MIN_MS = 1_000;

const LIST_CHANGED = new Set<string>([Notification.ToolsListChanged, Notification.PromptsListChanged, Notification.ResourcesListChanged]);

export class ServerDiscovery {
  phase: DiscoveryPhase = "connecting";
  snapshot?: ServerSnapshot;
  error?: string;
  lastChecked?: Date;
  private session?: UpstreamSession;
  /** The current session's initialize handshake; settles, never rejects. */
  private handshake?: Promise<void>;
  private stream?: AbortController;
  private timer?: NodeJS.Timeout;
  private refreshing?: Promise<void>;
  private refreshAgain = false;
  private stopped = false;
  private lastCheckNow = 0;
  private readonly backoff: Backoff;
  private refreshIntervalMs: number;

  constructor(
    readonly server: RegistryServer,
    private readonly http: UpstreamConnector,
    private readonly options: DiscoveryOptions,
    private readonly log: Logger,
    /** Called whenever phase, error or snapshot content changed. */
    private readonly onChange: (discovery: ServerDiscovery) => void,
  ) {
    this.backoff = new Backoff(options.backoff);
    this.refreshIntervalMs = options.refreshIntervalMs;
  }

  /** A new interval applies at once: the pending refresh is rescheduled, counting from now. */
  setRefreshInterval(ms: number): void {
    if (ms === this.refreshIntervalMs) return;
    this.refreshIntervalMs = ms;
    this.scheduleRefresh();
  }

  start(): void {
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.stream?.abort();
    // Until the initialize answer arrives the session id is unknown, so a close now could not end the session
    // the upstream is opening: let the handshake settle (the discovery timeout bounds it), then close.
    await this.handshake;
    await this.session?.close();
  }

  /**
   * Something suggests the server is in trouble (a client call failed): check now instead of at
   * the next interval. At most once per CHECK_NOW_MIN_MS, since clients decide how often calls fail.
   */
  checkNow(): void {
    const now = Date.now();
    if (this.phase !== "ready" || now - this.lastCheckNow < CHECK_NOW_MIN_MS) return;
    this.lastCheckNow = now;
    void this.refresh();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const session = new UpstreamSession(this.http, {
      target: upstreamTarget(this.server, this.server.credential ? { authorization: this.server.credential } : {}),
      protocolVersion: LATEST_PROTOCOL_VERSION,
      clientInfo: GATEWAY_INFO,
      capabilities: {},
    });
    this.session = session;
    const handshake = session.ensureInitialized(this.options.requestTimeoutMs);
    this.handshake = handshake.catch(() => undefined);
    try {
      await handshake;
      await this.refresh();
      if (this.phase === "ready") this.listen(session);
    } catch (err) {
      this.fail(err);
    }
  }

  /** Re-lists everything; concurrent triggers coalesce into one more pass. */
  private refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        await this.listAll();
      } while (this.refreshAgain && !this.stopped);
    })()
      .catch((err: unknown) => this.fail(err))
      .finally(() => {
        this.refreshing = undefined;
        this.scheduleRefresh();
      });
    return this.refreshing;
  }

  private async listAll(): Promise<void> {
    const session = this.session;
    if (!session?.initializeResult || this.stopped) return;
    const init = session.initializeResult;
    const snapshot: ServerSnapshot = {
      protocolVersion: init.protocolVersion,
      transport: this.http.transportInUse?.(session.target),
      capabilities: init.capabilities,
      instructions: init.instructions,
      serverInfo: init.serverInfo,
      tools: [],
      prompts: [],
      resources: [],
      resourceTemplates: [],
    };
    for (const list of LISTS) {
      if (init.capabilities[list.capability]) (snapshot[list.key] as unknown[]) = await this.listPages(session, list.method, list.key);
    }
    if (session !== this.session || this.stopped) return;
    this.lastChecked = new Date();
    const changed = this.phase !== "ready" || JSON.stringify(snapshot) !== JSON.stringify(this.snapshot);
    this.phase = "ready";
    this.error = undefined;
    this.snapshot = snapshot;
    this.backoff.reset();
    if (changed) {
      this.log.info({ server: this.server.name, tools: snapshot.tools.length, prompts: snapshot.prompts.length, resources: snapshot.resources.length }, "Discovered tools");
      this.onChange(this);
    }
  }

  private async listPages(session: UpstreamSession, method: string, key: string): Promise<unknown[]> {
    const items: unknown[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < this.options.maxPages; page++) {
      const response = await session.request(method, cursor === undefined ? undefined : { cursor }, { timeoutMs: this.options.requestTimeoutMs });
      if ("error" in response) throw new UpstreamProtocolError(`${method} failed: ${response.error.message}`);
      const pageItems = response.result[key];
      if (!Array.isArray(pageItems)) throw new UpstreamProtocolError(`${method} result has no ${key} array`);
      items.push(...pageItems);
      const next = response.result.nextCursor;
      if (typeof next !== "string" || next === "" || next === cursor) return items;
      cursor = next;
    }
    throw new UpstreamProtocolError(`${method} returned more than ${this.options.maxPages} pages`);
  }

  /** Listens for list_changed on the server's GET stream; a dropped stream triggers a health check. */
  private listen(session: UpstreamSession): void {
    const controller = new AbortController();
    this.stream = controller;
    const onMessage = (message: JsonRpcMessage) => {
      if ("method" in message && LIST_CHANGED.has(message.method)) void this.refresh();
    };
    session.listen(onMessage, controller.signal).then(
      (offered) => {
        // The server ended the stream: it may be going away, or just rotating connections.
        if (offered && !controller.signal.aborted && session === this.session) {
          void this.refresh().then(() => {
            if (this.phase === "ready" && session === this.session) this.listen(session);
          });
        }
      },
      () => {
        if (!controller.signal.aborted && session === this.session) void this.refresh();
      },
    );
  }

  private fail(err: unknown): void {
    if (this.stopped) return;
    const reason = describeUpstreamError(err);
    const changed = this.phase !== "failed" || this.error !== reason;
    this.phase = "failed";
    this.error = reason;
    this.snapshot = undefined;
    this.lastChecked = new Date();
    this.stream?.abort();
    const session = this.session;
    this.session = undefined;
    void session?.close();
    clearTimeout(this.timer);
    const delay = this.backoff.next();
    if (changed) {
      this.log.warn({ server: this.server.name, err: reason, retryInMs: delay }, "upstream server unavailable");
      this.onChange(this);
    }
    this.timer = setTimeout(() => void this.connect(), delay);
  }

  private scheduleRefresh(): void {
    if (this.stopped || this.phase !== "ready") return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.refresh(), this.refreshIntervalMs);
  }
}
