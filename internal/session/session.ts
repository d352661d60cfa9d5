// What the gateway remembers about one client session: the negotiated protocol, the upstream
// sessions opened on its behalf, its open GET streams, subscriptions and log level, and the
// id mappings for requests travelling between it and its upstreams.
import type { Identity } from "../auth/request-grants.js";
import type { JsonRpcId, JsonRpcMessage, JsonRpcRequest, JsonRpcResponse } from "../mcp/jsonrpc.js";
import type { RequestAbort } from "../upstream/request-abort.js";
import type { UpstreamSession, UpstreamState } from "../upstream/session.js";

/** A server-to-client channel the transport opened for this session (a GET stream). */
export interface ClientStream {
  send(message: JsonRpcMessage): void;
  close(): void;
}

/** Where the answer to a forwarded request goes, read from its gateway id; undefined for ids the gateway did not make. */
export function forwardedRequestOrigin(id: unknown): { server: string; upstreamId: JsonRpcId } | undefined {
  if (typeof id !== "string" || !id.startsWith("gw-")) return undefined;
  try {
    const [server, upstreamId] = JSON.parse(Buffer.from(id.slice(id.indexOf(".") + 1), "base64url").toString()) as unknown[];
    if (typeof server === "string" && (typeof upstreamId === "string" || typeof upstreamId === "number")) return { server, upstreamId };
  } catch {
    // Not one of ours.
  }
  return undefined;
}

/**
 * Who asked a request the gateway forwarded to the client, and takes the client's answer (under
 * the asker's own id): an upstream session, or a bridged call of an upstream without sessions
 * (broker/input-bridge.ts) waiting for the answers it retries with.
 */
export interface RequestAsker {
  reply(response: JsonRpcResponse, authorization?: string): Promise<void>;
}

/** A request an upstream sent us, forwarded to the client under a gateway id. */
export interface ForwardedRequest {
  server: string;
  upstream: RequestAsker;
  upstreamId: JsonRpcId;
}

export interface InflightCall {
  server: string;
  upstream?: UpstreamSession;
  upstreamId?: JsonRpcId;
  /** Aborted when the client cancels the request or goes away: the gateway stops waiting for the upstream. */
  abort: RequestAbort;
  /** The client token the request carries, for an upstream that takes it (a cancellation the gateway sends on its own). */
  authorization?: string;
  /** The call's own answer stream (false: it cannot take the message), for an upstream's request sent outside the call. */
  stream: { send(message: JsonRpcMessage): boolean };
}

export interface SessionInit {
  protocolVersion: string;
  clientInfo: { name: string; version: string };
  clientCapabilities: Record<string, unknown>;
  /**
   * Who created the session (client authentication on): only requests of the same identity find
   * it. No token is kept: upstreams that take the client's token get the one of each request.
   */
  owner?: Identity;
}

export class GatewaySession {
  lastSeen = Date.now();
  /** When this replica last moved the session's idle deadline in the shared store. */
  lastTouched = Date.now();
  /** The signer's key generation this replica last verified the id under (SessionIdSigner.generation). */
  verifiedGeneration = -1;
  /** The client this replica counted the session against (SessionQuota), until it lets go of it. */
  quotaKey?: string;
  private level?: string;
  /** Upstream sessions by server name, opened on first use. */
  private readonly upstreams = new Map<string, Promise<UpstreamSession>>();
  /**
   * The upstream sessions the shared store names for this session (by server): opened here or by
   * another replica, which this one takes over on first use instead of opening its own.
   */
  private readonly recorded = new Map<string, UpstreamState>();
  private readonly streams = new Set<ClientStream>();
  /** list_changed kinds that happened while no stream was open; delivered when one opens. */
  private readonly missedListChanges = new Set<string>();
  /** Subscribed resource URI -> server name. */
  private readonly subscribed = new Map<string, string>();
  /** Upstream GET streams held open (for subscriptions, for a client that answers upstreams' requests), by server name. */
  private readonly listeners = new Map<string, AbortController>();
  /** Gateway id -> the upstream request it stands for. */
  private readonly forwarded = new Map<JsonRpcId, ForwardedRequest>();
  /** Client request id -> where it went, so notifications/cancelled can follow it. */
  private readonly inflight = new Map<JsonRpcId, InflightCall>();
  private nextForwardId = 1;

  constructor(
    readonly id: string,
    readonly init: SessionInit,
    /** From the signed id: the session ends then, however active. */
    readonly expiresAt: number,
  ) {}

  get protocolVersion(): string {
    return this.init.protocolVersion;
  }

  // ---- log level ----

  get logLevel(): string | undefined {
    return this.level;
  }

  setLogLevel(level: string | undefined): void {
    this.level = level;
  }

  // ---- upstream sessions ----

  upstream(server: string): Promise<UpstreamSession> | undefined {
    return this.upstreams.get(server);
  }

  /** Keeps an upstream session (being) opened for the session; it is let go of again if opening fails. */
  keepUpstream(server: string, pending: Promise<UpstreamSession>): void {
    this.upstreams.set(server, pending);
    pending.catch(() => this.releaseUpstream(server, pending));
  }

  /** Lets go of the server's upstream session (only `pending`, when given) and of its GET stream; true when one was held. */
  releaseUpstream(server: string, pending?: Promise<UpstreamSession>): boolean {
    if (pending !== undefined && this.upstreams.get(server) !== pending) return false;
    this.stopListening(server);
    return this.upstreams.delete(server);
  }

  /** The upstream sessions held, by server. */
  openUpstreams(): Array<[string, Promise<UpstreamSession>]> {
    return [...this.upstreams];
  }

  /** Lets go of every upstream session held and returns them (the session ends here). */
  takeUpstreams(): Array<[string, Promise<UpstreamSession>]> {
    const taken = [...this.upstreams];
    this.upstreams.clear();
    return taken;
  }

  recordedUpstream(server: string): UpstreamState | undefined {
    return this.recorded.get(server);
  }

  recordedUpstreams(): ReadonlyMap<string, UpstreamState> {
    return this.recorded;
  }

  recordUpstream(server: string, state: UpstreamState): void {
    this.recorded.set(server, state);
  }

  /** Forgets the recorded upstream session of a server (only the one with `sessionId`, when given). */
  forgetRecordedUpstream(server: string, state?: UpstreamState): void {
    if (state === undefined || this.recorded.get(server)?.sessionId === state.sessionId) this.recorded.delete(server);
  }

  // ---- resource subscriptions, and the upstream GET streams (their updates, upstreams' requests) ----

  subscriptions(): ReadonlyMap<string, string> {
    return this.subscribed;
  }

  isSubscribed(uri: string): boolean {
    return this.subscribed.has(uri);
  }

  /** Whether a subscription's updates come from this server. */
  subscribesAt(server: string): boolean {
    for (const owner of this.subscribed.values()) if (owner === server) return true;
    return false;
  }

  /** Whether one more subscription to `uri` stays within `max` (0 = no limit). */
  maySubscribe(uri: string, max: number): boolean {
    return max <= 0 || this.subscribed.has(uri) || this.subscribed.size < max;
  }

  subscribe(uri: string, server: string): void {
    this.subscribed.set(uri, server);
  }

  unsubscribe(uri: string): void {
    this.subscribed.delete(uri);
  }

  /** The listener for a server's GET stream; undefined when one is already open. */
  startListening(server: string): AbortController | undefined {
    if (this.listeners.has(server)) return undefined;
    const controller = new AbortController();
    this.listeners.set(server, controller);
    return controller;
  }

  isListening(server: string): boolean {
    return this.listeners.has(server);
  }

  /** The server's GET stream ended, or is no longer wanted (only `controller`'s, when given). */
  stopListening(server: string, controller?: AbortController): void {
    const current = this.listeners.get(server);
    if (!current || (controller !== undefined && current !== controller)) return;
    this.listeners.delete(server);
    current.abort();
  }

  // ---- requests in flight, both ways ----

  /** Registers a client request sent upstream; false when its id is already in flight. */
  beginCall(id: JsonRpcId, call: InflightCall): boolean {
    if (this.inflight.has(id)) return false;
    this.inflight.set(id, call);
    return true;
  }

  endCall(id: JsonRpcId): void {
    this.inflight.delete(id);
  }

  inflightCall(id: unknown): InflightCall | undefined {
    return typeof id === "string" || typeof id === "number" ? this.inflight.get(id) : undefined;
  }

  /** The call in flight on an upstream session, when it is the only one there. */
  soleCall(upstream: UpstreamSession): InflightCall | undefined {
    let sole: InflightCall | undefined;
    for (const call of this.inflight.values()) {
      if (call.upstream !== upstream) continue;
      if (sole) return undefined;
      sole = call;
    }
    return sole;
  }

  /**
   * The copy of an upstream's request that goes to the client: under a gateway id (prefixed so
   * it never looks like an upstream's), remembered so the client's answer finds its way back.
   * The id also names the server and the upstream's id, so a replica that did not forward the
   * request can still route the answer when the client's POST reaches it.
   */
  forwardRequest(server: string, upstream: RequestAsker, request: JsonRpcRequest): JsonRpcRequest & { id: string } {
    const id = `gw-${this.nextForwardId++}.${Buffer.from(JSON.stringify([server, request.id])).toString("base64url")}`;
    this.forwarded.set(id, { server, upstream, upstreamId: request.id });
    return { ...request, id };
  }

  /** The upstream request a client's answer (by gateway id) is for, forgotten from now on. */
  takeForwarded(id: JsonRpcId | null): ForwardedRequest | undefined {
    if (id === null) return undefined;
    const forwarded = this.forwarded.get(id);
    this.forwarded.delete(id);
    return forwarded;
  }

  /** The upstream gave up on a request it sent the client: the gateway id the client knows it by, forgotten from now on. */
  withdrawForwarded(upstream: UpstreamSession, upstreamId: unknown): string | undefined {
    for (const [id, forwarded] of this.forwarded) {
      if (forwarded.upstream === upstream && forwarded.upstreamId === upstreamId) {
        this.forwarded.delete(id);
        return String(id);
      }
    }
    return undefined;
  }

  // ---- client streams ----

  /** Opens a stream and hands it the list changes it missed, so a reconnecting client does not keep a stale list. */
  addStream(stream: ClientStream): void {
    this.streams.add(stream);
    for (const method of this.missedListChanges) stream.send({ jsonrpc: "2.0", method });
    this.missedListChanges.clear();
  }

  removeStream(stream: ClientStream): void {
    this.streams.delete(stream);
  }

  get hasStreams(): boolean {
    return this.streams.size > 0;
  }

  /** Lets go of what ties the session to this process: client streams and upstream listeners. */
  detach(): void {
    for (const stream of [...this.streams]) stream.close();
    for (const listener of this.listeners.values()) listener.abort();
  }

  /** A list changed: tell the client now, or as soon as it opens a stream. */
  announceListChange(method: string): void {
    if (!this.notify({ jsonrpc: "2.0", method })) this.missedListChanges.add(method);
  }

  /** Sends to the newest open GET stream: the spec asks for each message on exactly one stream. */
  notify(message: JsonRpcMessage): boolean {
    let newest: ClientStream | undefined;
    for (const stream of this.streams) newest = stream;
    newest?.send(message);
    return newest !== undefined;
  }
}
