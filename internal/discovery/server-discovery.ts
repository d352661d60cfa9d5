// Keeps the broker's picture of one upstream server current: a discovery session that lists
// tools, prompts, resources and templates across all pages, refreshes at once on any
// list_changed notification and on an interval, and on failure drops everything the server
// offered and reconnects with backoff. A Streamable HTTP server is first asked `server/discover`:
// one that offers 2026-07-28 is also listed per request (the union of both eras' lists, since a
// server may offer some tools to one era only), and one that speaks only that era has no session.
import type { Logger } from "../log/logger.js";
import type { JsonRpcMessage, JsonRpcResponse, Params } from "../mcp/jsonrpc.js";
import { unionCapabilities } from "../mcp/capabilities.js";
import { GATEWAY_INFO, LATEST_PROTOCOL_VERSION, Method, Notification } from "../mcp/protocol.js";
import type { RegistryServer } from "../contract/registry.js";
import { describeUpstreamError, UpstreamProtocolError } from "../upstream/errors.js";
import { transportOf, upstreamTarget, type UpstreamConnector } from "../upstream/connector.js";
import { holdUpstreamStream } from "../upstream/held-stream.js";
import { PerRequestUpstream, type DiscoverResult } from "../upstream/per-request.js";
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
  { method: Method.ToolsList, key: "tools", capability: "tools", id: "name" },
  { method: Method.PromptsList, key: "prompts", capability: "prompts", id: "name" },
  { method: Method.ResourcesList, key: "resources", capability: "resources", id: "uri" },
  { method: Method.ResourceTemplatesList, key: "resourceTemplates", capability: "resources", id: "uriTemplate" },
] as const;

/** Sends one list request in one era. */
type Lister = (method: string, params: Params | undefined) => Promise<JsonRpcResponse>;

const CHECK_NOW_MIN_MS = 1_000;

const LIST_CHANGED = new Set<string>([Notification.ToolsListChanged, Notification.PromptsListChanged, Notification.ResourcesListChanged]);

export class ServerDiscovery {
  phase: DiscoveryPhase = "connecting";
  snapshot?: ServerSnapshot;
  error?: string;
  lastChecked?: Date;
  private session?: UpstreamSession;
  /** What server/discover answered, when the server offers a per-request version. */
  private discovered?: { upstream: PerRequestUpstream; result: DiscoverResult };
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
    const target = upstreamTarget(this.server, this.server.credential ? { authorization: this.server.credential } : {});
    // Only an explicit Streamable HTTP server is probed: `auto` would take the refusal of a session-era server for a legacy SSE one.
    const perRequest = transportOf(target) === "streamable-http" ? new PerRequestUpstream(this.http, target) : undefined;
    const probe = perRequest?.discover({ clientCapabilities: {}, clientInfo: GATEWAY_INFO }, this.options.requestTimeoutMs);
    const session = new UpstreamSession(this.http, { target, protocolVersion: LATEST_PROTOCOL_VERSION, clientInfo: GATEWAY_INFO, capabilities: {} });
    this.session = session;
    const handshake = session.ensureInitialized(this.options.requestTimeoutMs);
    this.handshake = handshake.catch(() => undefined);
    const discovered = await probe;
    this.discovered = perRequest && discovered ? { upstream: perRequest, result: discovered } : undefined;
    try {
      try {
        await handshake;
      } catch (err) {
        // A server of the per-request era only has no sessions to offer.
        if (!this.discovered) throw err;
        this.session = undefined;
      }
      await this.refresh();
      if (this.phase === "ready" && this.session) this.listen(session);
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
    const discovered = this.discovered;
    const init = session?.initializeResult;
    if ((!init && !discovered) || this.stopped) return;
    const perRequest = discovered?.result;
    const snapshot: ServerSnapshot = {
      protocolVersion: init?.protocolVersion ?? perRequest?.protocolVersion ?? "",
      transport: session ? this.http.transportInUse?.(session.target) : undefined,
      perRequestVersion: perRequest?.protocolVersion,
      // Both eras' words, merged at every depth: a both-era server may name some extensions (tasks) only per request.
      capabilities: unionCapabilities(init?.capabilities ?? {}, perRequest?.capabilities ?? {}),
      instructions: init?.instructions ?? perRequest?.instructions,
      serverInfo: init?.serverInfo ?? perRequest?.serverInfo,
      tools: [],
      prompts: [],
      resources: [],
      resourceTemplates: [],
    };
    const listers: Array<{ capabilities: Record<string, unknown>; send: Lister }> = [];
    if (session && init) listers.push({ capabilities: init.capabilities, send: (method, params) => session.request(method, params, { timeoutMs: this.options.requestTimeoutMs }) });
    if (discovered) {
      const meta = { protocolVersion: discovered.result.protocolVersion, clientCapabilities: {}, clientInfo: GATEWAY_INFO };
      listers.push({ capabilities: discovered.result.capabilities, send: (method, params) => discovered.upstream.request(method, params, { meta, timeoutMs: this.options.requestTimeoutMs }) });
    }
    for (const list of LISTS) {
      const items = new Map<unknown, unknown>();
      for (const lister of listers) {
        if (!lister.capabilities[list.capability]) continue;
        // The first era's entry wins for an item both list.
        for (const item of await this.listPages(lister.send, list.method, list.key)) {
          const id = (item as Record<string, unknown> | null)?.[list.id];
          if (!items.has(id)) items.set(id, item);
        }
      }
      (snapshot[list.key] as unknown[]) = [...items.values()];
    }
    if (session !== this.session || discovered !== this.discovered || this.stopped) return;
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

  private async listPages(send: Lister, method: string, key: string): Promise<unknown[]> {
    const items: unknown[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < this.options.maxPages; page++) {
      const response = await send(method, cursor === undefined ? undefined : { cursor });
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

  /**
   * Listens for list_changed on the server's GET stream while this session is the current one
   * (fail() and stop() abort it). Whenever the stream drops (the server rotating connections, a
   * proxy's timeout, or the server going away) everything is listed again, since a change may
   * have been missed, and the stream is opened again (held-stream.ts).
   */
  private listen(session: UpstreamSession): void {
    const controller = new AbortController();
    this.stream = controller;
    const onMessage = (message: JsonRpcMessage) => {
      if ("method" in message && LIST_CHANGED.has(message.method)) void this.refresh();
    };
    holdUpstreamStream(session, onMessage, controller.signal, {
      onDropped: () => {
        if (session === this.session) void this.refresh();
      },
    });
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
