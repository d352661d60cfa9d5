// The MCP protocol side of the gateway: answers initialize and list requests from the catalog,
// routes calls to the upstream that owns the name or URI on an upstream session that belongs to
// the client's gateway session, and relays everything that travels back (progress, logs,
// sampling/elicitation/roots requests and their answers, cancellations, list changes).
import type { IncomingHttpHeaders } from "node:http";
import { InitializeRequestParamsSchema } from "@modelcontextprotocol/sdk/types.js";
import type { Route } from "../catalog/catalog.js";
import type { ListKind } from "../catalog/catalog.js";
import type { ListFilter, ListPages } from "../catalog/pages.js";
import type { ListChange, ServerDirectory } from "../discovery/directory.js";
import type { Logger } from "../log/logger.js";
import {
  errorResponse,
  ErrorCode,
  isNotification,
  isRequest,
  JsonRpcError,
  resultResponse,
  type JsonRpcErrorObject,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type Params,
} from "../mcp/jsonrpc.js";
import { grantOf, identityKey, identityOf } from "../auth/request-grants.js";
import { combineFilters } from "../auth/tool-grant.js";
import { GATEWAY_INFO, Method, negotiateProtocolVersion, Notification } from "../mcp/protocol.js";
import type { GatewayMetrics } from "../metrics/metrics.js";
import type { RegistryServer } from "../contract/registry.js";
import { forwardedRequestOrigin, type GatewaySession, type InflightCall } from "../session/session.js";
import type { SessionStore, UpstreamOpening } from "../session/store.js";
import type { EventStream } from "../transport/event-stream.js";
import type { RequestChannel } from "../transport/post-responder.js";
import type { McpProtocolHandler } from "../transport/streamable-http.js";
import { describeUpstreamError, UpstreamRejectedError, UpstreamTimeoutError } from "../upstream/errors.js";
import { upstreamTarget, type UpstreamConnector } from "../upstream/connector.js";
import { UpstreamSession, type InitializeResult, type SendDuringHandshake, type UpstreamState } from "../upstream/session.js";
import { mergedCapabilities, mergedInstructions } from "./capabilities.js";

export interface BrokerOptions {
  /** Longest time a forwarded request may take. */
  requestTimeoutMs: number;
  /** Upstream sessions unused this long are closed (reopened on next use); 0 = never. */
  upstreamIdleTimeoutMs: number;
  /** Largest initialize params (JSON bytes): they are kept for the session's life and sent to every upstream. */
  maxInitializeParamsBytes: number;
  /** Resource subscriptions one session may hold; 0 = no limit. */
  maxSubscriptionsPerSession: number;
}

const VIRTUAL_SERVER_HEADER = "x-mcp-virtualserver";

type Reply = { result: Record<string, unknown> } | { raw: string } | { error: JsonRpcErrorObject } | { none: true };

const KNOWN_METHODS = new Set<string>(Object.values(Method));

function invalidParams(message: string): JsonRpcError {
  return new JsonRpcError(ErrorCode.InvalidParams, message);
}

function stringParam(params: Params, key: string): string {
  const value = params[key];
  if (typeof value !== "string" || value === "") throw invalidParams(`params.${key} must be a non-empty string`);
  return value;
}

/** From an upstream's own stream, clients get updates of resources they subscribed to and log messages; list changes come from discovery. */
function isRelayedUpdate(session: GatewaySession, notification: JsonRpcNotification): boolean {
  if (notification.method === Notification.ResourceUpdated) return session.subscriptions.has(String(notification.params?.uri));
  return !notification.method.endsWith("/list_changed");
}

export class Broker implements McpProtocolHandler<GatewaySession> {
  private upstreamSweeper?: NodeJS.Timeout;

  constructor(
    private readonly directory: ServerDirectory,
    private readonly pages: ListPages,
    private readonly sessions: SessionStore,
    private readonly http: UpstreamConnector,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
    private readonly options: BrokerOptions,
  ) {
    directory.on("listChanged", (kinds) => this.announce(kinds));
    directory.on("serversReplaced", (names) => this.dropUpstreams(names));
  }

  /** Connects the session store (Redis, when shared) and starts expiring sessions and idle upstream sessions. */
  async start(): Promise<void> {
    await this.sessions.start({
      expired: (session) => void this.close(session, "expired", true),
      closedElsewhere: (session) => void this.close(session, "ended on another replica", false),
      cancelledElsewhere: (session, params) => this.cancel(session, params),
    });
    const idleMs = this.options.upstreamIdleTimeoutMs;
    if (idleMs > 0) {
      this.upstreamSweeper = setInterval(() => this.closeIdleUpstreams(Date.now() - idleMs), Math.min(60_000, Math.max(1_000, idleMs / 4)));
      this.upstreamSweeper.unref();
    }
  }

  // ---- transport hooks ----

  async initialize(request: JsonRpcRequest, headers: IncomingHttpHeaders, client: string): Promise<{ session?: GatewaySession; response: JsonRpcResponse }> {
    const refused = (message: string) => {
      this.metrics.request(Method.Initialize, "error");
      return { response: errorResponse(request.id, ErrorCode.InvalidParams, message) };
    };
    // Kept for the session's life, written to Redis and sent to every upstream: the client must not decide their size.
    const size = Buffer.byteLength(JSON.stringify(request.params ?? {}));
    if (size > this.options.maxInitializeParamsBytes) return refused(`initialize params are ${size} bytes; at most ${this.options.maxInitializeParamsBytes} are accepted`);
    // The client's capabilities and clientInfo are handed to every upstream it reaches: they must be valid MCP.
    const parsed = InitializeRequestParamsSchema.safeParse(request.params ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return refused(`invalid initialize params: ${issue?.path.join(".") || "params"}: ${issue?.message ?? "invalid"}`);
    }
    const params = parsed.data;
    const session = await this.sessions.create(
      {
        protocolVersion: negotiateProtocolVersion(params.protocolVersion),
        clientInfo: { name: params.clientInfo.name, version: params.clientInfo.version },
        clientCapabilities: params.capabilities as Record<string, unknown>,
        owner: identityOf(headers),
      },
      client,
    );
    const catalog = this.directory.catalog;
    const result: Record<string, unknown> = { protocolVersion: session.protocolVersion, capabilities: mergedCapabilities(catalog), serverInfo: GATEWAY_INFO };
    const instructions = mergedInstructions(catalog);
    if (instructions) result.instructions = instructions;
    this.metrics.request(Method.Initialize, "ok");
    this.log.debug({ session: session.id, client: session.init.clientInfo, protocolVersion: session.protocolVersion }, "session opened");
    return { session, response: resultResponse(request.id, result) };
  }

  findSession(id: string, headers: IncomingHttpHeaders): GatewaySession | undefined | Promise<GatewaySession | undefined> {
    const found = this.sessions.get(id);
    const caller = identityKey(identityOf(headers));
    // Someone else's session is, to this caller, a session that does not exist.
    const owned = (session: GatewaySession | undefined) => (session && identityKey(session.init.owner) === caller ? session : undefined);
    return found instanceof Promise ? found.then(owned) : owned(found);
  }

  onRequest(session: GatewaySession, request: JsonRpcRequest, channel: RequestChannel, headers: IncomingHttpHeaders): void {
    const started = performance.now();
    const method = KNOWN_METHODS.has(request.method) ? request.method : "other";
    void this.dispatch(session, request, channel, headers)
      .catch((err: unknown): Reply => {
        if (err instanceof JsonRpcError) return { error: err.toObject() };
        this.log.error({ err, method: request.method }, "request failed");
        return { error: { code: ErrorCode.InternalError, message: `internal error: ${(err as Error).message}` } };
      })
      .then((reply) => {
        if ("none" in reply) {
          channel.abandon();
          this.metrics.request(method, "cancelled");
          return;
        }
        if ("raw" in reply) channel.respondRaw(request.id, reply.raw);
        else if ("result" in reply) channel.respond(resultResponse(request.id, reply.result));
        else channel.respond(errorResponse(request.id, reply.error.code, reply.error.message, reply.error.data));
        this.metrics.request(method, "error" in reply ? "error" : "ok", (performance.now() - started) / 1000);
      });
  }

  onNotification(session: GatewaySession, notification: JsonRpcNotification, headers: IncomingHttpHeaders): void {
    const params = notification.params ?? {};
    switch (notification.method) {
      case Notification.Initialized:
        // Nothing to do: the gateway serves a session from initialize on.
        return;
      case Notification.Cancelled:
        // A load balancer may have sent the request to another replica: that one stops it.
        if (!this.cancel(session, params, headers.authorization)) this.sessions.cancelElsewhere(session, params);
        return;
      case Notification.RootsListChanged:
        for (const [name, pending] of session.upstreams) {
          const authorization = this.clientToken(this.directory.server(name), headers);
          pending.then((upstream) => upstream.notify(Notification.RootsListChanged, undefined, authorization)).catch(() => undefined);
        }
        return;
      default:
        this.log.debug({ session: session.id, method: notification.method }, "client notification ignored");
    }
  }

  onResponse(session: GatewaySession, response: JsonRpcResponse, headers: IncomingHttpHeaders): void {
    const forwarded = response.id === null ? undefined : session.forwardedRequests.get(response.id);
    if (forwarded) {
      session.forwardedRequests.delete(response.id as string);
      this.replyUpstream(session, Promise.resolve(forwarded.upstream), forwarded.upstreamId, response, this.clientToken(this.directory.server(forwarded.server), headers));
      return;
    }
    // Forwarded by another replica: the id says where the answer goes.
    const origin = forwardedRequestOrigin(response.id);
    const server = origin && session.recordedUpstreams.has(origin.server) ? this.directory.server(origin.server) : undefined;
    if (!origin || !server) {
      this.log.debug({ session: session.id, id: response.id }, "response to an unknown request ignored");
      return;
    }
    this.replyUpstream(session, this.upstreamFor(session, server, headers), origin.upstreamId, response, this.clientToken(server, headers));
  }

  /**
   * Stops a request this replica runs for the session. The upstream is told (MCP: it then sends
   * no answer), and only after that the gateway stops waiting, so the upstream never sees its
   * answer stream closed before the cancellation.
   */
  private cancel(session: GatewaySession, params: Params, authorization?: string): boolean {
    const requestId = params.requestId;
    const call = typeof requestId === "string" || typeof requestId === "number" ? session.inflight.get(requestId) : undefined;
    if (!call) return false;
    const told = this.tellUpstreamCancelled(call, params, authorization);
    if (told) void told.finally(() => call.abort.abort());
    else call.abort.abort();
    return true;
  }

  /**
   * MCP: whoever gives up on a request tells the other side, so the upstream can stop working on
   * it. Undefined when the request has not gone out yet; else settles once told (or not reachable).
   */
  private tellUpstreamCancelled(call: InflightCall, params: Params, authorization = call.authorization): Promise<void> | undefined {
    if (!call.upstream || call.upstreamId === undefined) return undefined;
    return call.upstream.notify(Notification.Cancelled, { ...params, requestId: call.upstreamId }, authorization).catch(() => undefined);
  }

  private replyUpstream(session: GatewaySession, upstream: Promise<UpstreamSession>, upstreamId: JsonRpcId, response: JsonRpcResponse, authorization: string | undefined): void {
    upstream
      .then((target) => target.reply({ ...response, id: upstreamId } as JsonRpcResponse, authorization))
      .catch((err: unknown) => {
        this.log.warn({ session: session.id, err: describeUpstreamError(err) }, "could not pass the client's answer upstream");
      });
  }

  openStream(session: GatewaySession, stream: EventStream): void {
    session.addStream(stream);
    stream.onClose(() => session.streams.delete(stream));
  }

  async terminate(session: GatewaySession, headers: IncomingHttpHeaders): Promise<void> {
    await this.sessions.delete(session);
    await this.close(session, "client ended the session", true, headers);
  }

  /**
   * Shutdown. Alone, the broker ends its sessions; with a shared store they live on for the other
   * replicas (and this one after a restart), so only this process's streams and listeners go.
   */
  async closeAll(): Promise<void> {
    clearInterval(this.upstreamSweeper);
    this.sessions.stop();
    const sessions = this.sessions.detachAll();
    if (this.sessions.shared) {
      for (const session of sessions) this.detach(session);
      return;
    }
    await Promise.all(sessions.map((session) => this.close(session, "gateway shutting down", true)));
  }

  // ---- methods ----

  private async dispatch(session: GatewaySession, request: JsonRpcRequest, channel: RequestChannel, headers: IncomingHttpHeaders): Promise<Reply> {
    const params = request.params ?? {};
    const catalog = this.directory.catalog;
    switch (request.method) {
      case Method.Ping:
        return { result: {} };
      case Method.Initialize:
        throw new JsonRpcError(ErrorCode.InvalidRequest, "session is already initialized");
      case Method.ToolsList:
        return { raw: this.pages.page("tools", params.cursor, this.filterFor(headers, "tools")) };
      case Method.ToolsCall: {
        const name = stringParam(params, "name");
        // A tool the caller is not granted is unknown to it: the refusal must not reveal that it exists.
        if (!(grantOf(headers)?.allows(name) ?? true)) throw invalidParams(`Unknown tool: ${name}`);
        const filter = this.virtualServerFilter(headers, "tools");
        if (filter && !filter.allows(name)) throw invalidParams(`Unknown tool: ${name} (not part of virtual server ${String(headers[VIRTUAL_SERVER_HEADER])})`);
        const route = catalog.findTool(name);
        if (!route) throw invalidParams(`Unknown tool: ${name}`);
        return this.forward(session, route, request, { ...params, name: route.upstreamName }, channel, headers);
      }
      case Method.PromptsList:
        return { raw: this.pages.page("prompts", params.cursor, this.filterFor(headers, "prompts")) };
      case Method.PromptsGet: {
        const route = this.promptRoute(stringParam(params, "name"), headers);
        return this.forward(session, route, request, { ...params, name: route.upstreamName }, channel, headers);
      }
      case Method.ResourcesList:
        return { raw: this.pages.page("resources", params.cursor, this.filterFor(headers, "resources")) };
      case Method.ResourceTemplatesList:
        return { raw: this.pages.page("resourceTemplates", params.cursor, this.filterFor(headers, "resourceTemplates")) };
      case Method.ResourcesRead:
        return this.forward(session, this.resourceRoute(params, headers), request, params, channel, headers);
      case Method.ResourcesSubscribe: {
        const route = this.resourceRoute(params, headers);
        const uri = params.uri as string;
        const max = this.options.maxSubscriptionsPerSession;
        if (max > 0 && !session.subscriptions.has(uri) && session.subscriptions.size >= max) {
          throw new JsonRpcError(ErrorCode.InvalidRequest, `the session already holds ${max} subscriptions; unsubscribe from one first`);
        }
        const reply = await this.forward(session, route, request, params, channel, headers);
        if ("result" in reply) {
          session.subscriptions.set(uri, route.server.name);
          this.sessions.recordSubscription(session, uri);
          await this.listenForUpdates(session, route.server, headers);
        }
        return reply;
      }
      case Method.ResourcesUnsubscribe: {
        const reply = await this.forward(session, this.resourceRoute(params, headers), request, params, channel, headers);
        session.subscriptions.delete(params.uri as string);
        this.sessions.recordSubscription(session, params.uri as string);
        return reply;
      }
      case Method.CompletionComplete:
        return this.complete(session, request, params, channel, headers);
      case Method.LoggingSetLevel:
        return this.setLogLevel(session, stringParam(params, "level"), headers);
      default:
        throw new JsonRpcError(ErrorCode.MethodNotFound, `Method not found: ${request.method}`);
    }
  }

  /** A resource the caller may not read is, to it, a resource that does not exist. */
  private resourceRoute(params: Params, headers: IncomingHttpHeaders): Route {
    const uri = stringParam(params, "uri");
    const route = this.directory.catalog.findResource(uri);
    if (!route || !this.resourceVisible(headers, uri, route)) throw new JsonRpcError(ErrorCode.ResourceNotFound, `Resource not found: ${uri}`, { uri });
    return route;
  }

  /** Each filter (virtual server, grant) must name the URI or the template that routes it. */
  private resourceVisible(headers: IncomingHttpHeaders, uri: string, route: Route): boolean {
    return [this.virtualServerFilter(headers, "resources"), grantOf(headers)].every((filter) => !filter || filter.allows(uri) || filter.allows(route.upstreamName));
  }

  /** A prompt the caller is not granted is unknown to it, as a tool is. */
  private promptRoute(name: string, headers: IncomingHttpHeaders): Route {
    const visible = this.filterFor(headers, "prompts")?.allows(name) ?? true;
    const route = visible ? this.directory.catalog.findPrompt(name) : undefined;
    if (!route) throw invalidParams(`Unknown prompt: ${name}`);
    return route;
  }

  private complete(session: GatewaySession, request: JsonRpcRequest, params: Params, channel: RequestChannel, headers: IncomingHttpHeaders): Promise<Reply> {
    const ref = (params.ref ?? {}) as { type?: unknown; name?: unknown; uri?: unknown };
    if (ref.type === "ref/prompt" && typeof ref.name === "string") {
      const route = this.promptRoute(ref.name, headers);
      return this.forward(session, route, request, { ...params, ref: { ...ref, name: route.upstreamName } }, channel, headers);
    }
    if (ref.type === "ref/resource" && typeof ref.uri === "string") {
      const route = this.directory.catalog.findTemplate(ref.uri);
      if (!route || !this.resourceVisible(headers, ref.uri, route)) throw new JsonRpcError(ErrorCode.ResourceNotFound, `Resource not found: ${ref.uri}`, { uri: ref.uri });
      return this.forward(session, route, request, params, channel, headers);
    }
    throw invalidParams("params.ref must be a ref/prompt with a name or a ref/resource with a uri");
  }

  /** Remembered for the session and applied to each of its upstream sessions, now and when they open. */
  private async setLogLevel(session: GatewaySession, level: string, headers: IncomingHttpHeaders): Promise<Reply> {
    session.logLevel = level;
    this.sessions.recordLogLevel(session);
    await Promise.all(
      [...session.upstreams].map(async ([name, pending]) => {
        const upstream = await pending.catch(() => undefined);
        if (upstream?.initializeResult?.capabilities.logging) {
          const authorization = this.clientToken(this.directory.server(name), headers);
          await upstream.request(Method.LoggingSetLevel, { level }, { timeoutMs: this.options.requestTimeoutMs, authorization }).catch(() => undefined);
        }
      }),
    );
    return { result: {} };
  }

  /** What one request may see of a list: its virtual server, narrowed by any verified grant. */
  private filterFor(headers: IncomingHttpHeaders, kind: ListKind): ListFilter | undefined {
    return combineFilters(this.virtualServerFilter(headers, kind), grantOf(headers));
  }

  /** A virtual server shows the tools, prompts and resources (URIs or templates) it lists, nothing else. */
  private virtualServerFilter(headers: IncomingHttpHeaders, kind: ListKind): ListFilter | undefined {
    const name = headers[VIRTUAL_SERVER_HEADER];
    if (typeof name !== "string" || name === "") return undefined;
    const virtualServer = this.directory.virtualServer(name);
    if (!virtualServer) throw invalidParams(`unknown virtual server ${name}`);
    const names = kind === "tools" ? virtualServer.tools : kind === "prompts" ? virtualServer.prompts : virtualServer.resources;
    return { key: `vs:${name}`, allows: (entry) => names.has(entry) };
  }

  /** The client's own Authorization, for a server that takes it (and has no credential of its own). */
  private clientToken(server: RegistryServer | undefined, headers: IncomingHttpHeaders): string | undefined {
    return server?.forwardClientAuthorization && !server.credential ? headers.authorization : undefined;
  }

  // ---- forwarding ----

  private async forward(session: GatewaySession, route: Route, request: JsonRpcRequest, params: Params, channel: RequestChannel, headers: IncomingHttpHeaders): Promise<Reply> {
    // Shapes every MCP request shares: a bad one is the client's error, not the upstream's.
    for (const key of ["_meta", "arguments"]) {
      const value = params[key];
      if (value !== undefined && (typeof value !== "object" || value === null || Array.isArray(value))) throw invalidParams(`params.${key} must be an object`);
    }
    // A second request under an id still in flight would take over the first one's cancellation and answer.
    if (session.inflight.has(request.id)) throw new JsonRpcError(ErrorCode.InvalidRequest, `request id ${JSON.stringify(request.id)} is already in flight in this session`);
    const server = route.server;
    const authorization = this.clientToken(server, headers);
    const call: InflightCall = { server: server.name, abort: new AbortController(), authorization };
    // The client going away ends the call as its cancellation does.
    const clientGone = () => call.abort.abort();
    if (channel.signal.aborted) clientGone();
    else channel.signal.addEventListener("abort", clientGone, { once: true });
    session.inflight.set(request.id, call);
    const started = performance.now();
    try {
      const upstream = await this.upstreamFor(session, server, headers);
      // Cancelled while the upstream session was opened: the request is never sent.
      if (call.abort.signal.aborted) return { none: true };
      call.upstream = upstream;
      const progressToken = (params._meta as { progressToken?: unknown } | undefined)?.progressToken;
      const response = await upstream.request(request.method, params, {
        timeoutMs: this.options.requestTimeoutMs,
        signal: call.abort.signal,
        onUpstreamId: (id) => (call.upstreamId = id),
        authorization,
        onMessage: (message) => this.relay(session, server.name, upstream, message, channel, progressToken),
      });
      return "error" in response ? { error: response.error } : { result: response.result };
    } catch (err) {
      if (call.abort.signal.aborted) return { none: true };
      if (err instanceof UpstreamRejectedError) return { error: err.error };
      const reason = describeUpstreamError(err);
      this.log.debug({ session: session.id, server: server.name, method: request.method, err: reason }, "forwarded request failed");
      if (err instanceof UpstreamTimeoutError) {
        void this.tellUpstreamCancelled(call, { reason: "timed out at the gateway" });
      } else {
        this.directory.discovery(server.name)?.checkNow();
      }
      return { error: { code: err instanceof UpstreamTimeoutError ? ErrorCode.UpstreamTimeout : ErrorCode.UpstreamUnavailable, message: `upstream ${server.name}: ${reason}` } };
    } finally {
      channel.signal.removeEventListener("abort", clientGone);
      session.inflight.delete(request.id);
      this.metrics.upstreamRequest(server.name, request.method, (performance.now() - started) / 1000);
    }
  }

  /**
   * Passes what an upstream sends while answering to the client, giving its requests gateway
   * ids. Progress is passed only for the token the client asked with: anything else could
   * collide with the client's own tokens.
   */
  private relay(session: GatewaySession, server: string, upstream: UpstreamSession, message: JsonRpcMessage, channel: RequestChannel, progressToken: unknown): void {
    if (isNotification(message) && message.method === Notification.Cancelled) {
      this.relayCancellation(session, upstream, message, channel);
      return;
    }
    if (!isRequest(message)) {
      if (!isNotification(message) || message.method !== Notification.Progress || (progressToken !== undefined && message.params?.progressToken === progressToken)) {
        channel.send(message);
      }
      return;
    }
    this.forwardToClient(session, server, upstream, message, channel);
  }

  /**
   * An upstream's request goes to the client on the call's own stream, else on the session's GET
   * stream (here or on another replica); with none open, the upstream is told at once instead of
   * waiting for its timeout.
   */
  private forwardToClient(session: GatewaySession, server: string, upstream: UpstreamSession, request: JsonRpcRequest, channel?: RequestChannel): void {
    const forwarded = session.forwardRequest(server, upstream, request);
    if (channel?.send(forwarded) || this.notifyClient(session, forwarded)) return;
    session.forwardedRequests.delete(forwarded.id);
    upstream.reply(errorResponse(request.id, ErrorCode.InternalError, "the client has no open stream to receive this request")).catch(() => undefined);
  }

  /**
   * The upstream gave up on a request it sent the client (sampling, elicitation, roots): the
   * client hears it under the gateway id it was sent, on the call's stream or the session's.
   * Cancellations of anything else are the upstream's business.
   */
  private relayCancellation(session: GatewaySession, upstream: UpstreamSession, notification: JsonRpcNotification, channel?: RequestChannel): void {
    const id = session.withdrawForwarded(upstream, notification.params?.requestId);
    if (id === undefined) return;
    const translated: JsonRpcNotification = { ...notification, params: { ...notification.params, requestId: id } };
    if (!channel?.send(translated)) this.notifyClient(session, translated);
  }

  /** To the session's newest stream on this replica, else to a replica holding one. */
  private notifyClient(session: GatewaySession, message: JsonRpcMessage): boolean {
    return session.notify(message) || this.sessions.deliverElsewhere(session, message);
  }

  /**
   * The session's upstream session for a server: opened on first use (or taken over from the
   * replica that opened it), shared after.
   */
  private upstreamFor(session: GatewaySession, server: RegistryServer, headers: IncomingHttpHeaders): Promise<UpstreamSession> {
    const existing = session.upstreams.get(server.name);
    if (existing) return existing;
    const pending = this.openUpstream(session, server, this.clientToken(server, headers));
    session.upstreams.set(server.name, pending);
    pending.catch(() => {
      if (session.upstreams.get(server.name) === pending) session.upstreams.delete(server.name);
    });
    return pending;
  }

  /** Takes over the upstream session recorded for the session (by this or another replica), else opens one, one replica at a time. */
  private async openUpstream(session: GatewaySession, server: RegistryServer, authorization: string | undefined): Promise<UpstreamSession> {
    const recorded = session.recordedUpstreams.get(server.name);
    const opening: UpstreamOpening = recorded ? { adopt: recorded } : await this.sessions.beginOpening(session, server.name, this.options.requestTimeoutMs);
    const upstream = this.upstreamSession(session, server, "adopt" in opening ? opening.adopt : undefined);
    try {
      await upstream.ensureInitialized(this.options.requestTimeoutMs, authorization);
      return upstream;
    } finally {
      if ("release" in opening) opening.release();
    }
  }

  private upstreamSession(session: GatewaySession, server: RegistryServer, adopt?: UpstreamState): UpstreamSession {
    // A client's token is never stored here: each request brings its own (clientToken).
    const headers: Record<string, string> = {};
    if (server.credential) headers.authorization = server.credential;
    return new UpstreamSession(this.http, {
      target: upstreamTarget(server, headers),
      protocolVersion: session.protocolVersion,
      clientInfo: session.init.clientInfo,
      capabilities: session.init.clientCapabilities,
      afterInitialize: (send, result) => this.restoreSessionState(session, server, send, result),
      onOpened: (state) => this.sessions.recordUpstream(session, server.name, state),
      adopt,
    });
  }

  /** A new (or re-opened) upstream session gets the log level and subscriptions the client set. */
  private async restoreSessionState(session: GatewaySession, server: RegistryServer, send: SendDuringHandshake, result: InitializeResult): Promise<void> {
    if (session.logLevel && result.capabilities.logging) await send(Method.LoggingSetLevel, { level: session.logLevel }).catch(() => undefined);
    for (const [uri, owner] of session.subscriptions) {
      if (owner === server.name) await send(Method.ResourcesSubscribe, { uri }).catch(() => undefined);
    }
  }

  /** Keeps the upstream's GET stream open while the session has subscriptions there, for resources/updated. */
  private async listenForUpdates(session: GatewaySession, server: RegistryServer, headers: IncomingHttpHeaders): Promise<void> {
    if (session.upstreamListeners.has(server.name)) return;
    const upstream = await this.upstreamFor(session, server, headers);
    const controller = new AbortController();
    session.upstreamListeners.set(server.name, controller);
    const onMessage = (message: JsonRpcMessage) => {
      if (isRequest(message)) {
        this.forwardToClient(session, server.name, upstream, message);
      } else if (isNotification(message) && message.method === Notification.Cancelled) {
        this.relayCancellation(session, upstream, message);
      } else if (isNotification(message) && isRelayedUpdate(session, message)) {
        this.notifyClient(session, message);
      }
    };
    upstream
      .listen(onMessage, controller.signal, this.clientToken(server, headers))
      .catch(() => undefined)
      .finally(() => {
        if (session.upstreamListeners.get(server.name) === controller) session.upstreamListeners.delete(server.name);
      });
  }

  // ---- session lifecycle ----

  /**
   * Ends the session's upstream sessions: the ones this replica opened or took over and, when
   * `recorded` is set (the session ended for good), those the shared store names that nobody here used.
   */
  private async close(session: GatewaySession, reason: string, recorded: boolean, headers?: IncomingHttpHeaders): Promise<void> {
    this.log.debug({ session: session.id, reason }, "session closed");
    this.detach(session);
    const opened = await Promise.all([...session.upstreams].map(async ([name, pending]) => ({ name, upstream: await pending.catch(() => undefined) })));
    session.upstreams.clear();
    const closing: Array<{ name: string; upstream: UpstreamSession }> = [];
    for (const { name, upstream } of opened) if (upstream) closing.push({ name, upstream });
    if (recorded) {
      const open = new Set(closing.map(({ upstream }) => upstream.sessionId));
      for (const [name, state] of session.recordedUpstreams) {
        const server = this.directory.server(name);
        if (server && !open.has(state.sessionId)) closing.push({ name, upstream: this.upstreamSession(session, server, state) });
      }
    }
    // Ended by its client, the DELETE's token ends the upstream sessions; by expiry there is no token to send.
    await Promise.all(closing.map(({ name, upstream }) => upstream.close(headers && this.clientToken(this.directory.server(name), headers)).catch(() => undefined)));
  }

  /** Lets go of what ties the session to this process: client streams and upstream listeners. */
  private detach(session: GatewaySession): void {
    for (const stream of session.streams) stream.close();
    for (const listener of session.upstreamListeners.values()) listener.abort();
  }

  private dropUpstreams(serverNames: string[]): void {
    for (const session of this.sessions.all()) {
      for (const name of serverNames) {
        const pending = session.upstreams.get(name);
        session.recordedUpstreams.delete(name);
        if (!pending) continue;
        session.upstreams.delete(name);
        session.upstreamListeners.get(name)?.abort();
        pending.then((upstream) => upstream.close()).catch(() => undefined);
      }
    }
  }

  /** Upstream sessions unused since `cutoff` (and not listening for a subscription) are closed; the next call opens a new one. */
  private closeIdleUpstreams(cutoff: number): void {
    for (const session of this.sessions.all()) {
      for (const [name, pending] of session.upstreams) {
        if (session.upstreamListeners.has(name)) continue;
        void pending.then((upstream) => {
          if (upstream.pending > 0 || upstream.lastUsed >= cutoff || session.upstreams.get(name) !== pending) return;
          session.upstreams.delete(name);
          const state = upstream.state();
          if (state) this.sessions.forgetUpstream(session, name, state);
          this.log.debug({ session: session.id, server: name }, "idle upstream session closed");
          return upstream.close();
        }, () => undefined);
      }
    }
  }

  private announce(kinds: Set<ListChange>): void {
    const methods = [...kinds].map((kind) => `notifications/${kind}/list_changed`);
    for (const session of this.sessions.all()) {
      for (const method of methods) session.announceListChange(method);
    }
  }
}
