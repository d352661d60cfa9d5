// The protocol side of the per-request era (MCP 2026-07-28). It answers what is new in the era
// (server/discover, subscriptions/listen) and refuses what it removed; everything else (lists,
// calls, reads, prompts, completion) goes through the same method table as the session era, so
// catalog, prefixes, grants, virtual servers, limits and metrics are the same. That table runs on
// internal gateway sessions (CallerSessions), one per caller and capability set, whose upstream
// sessions serve session-era upstreams; no session reaches the client. When such an upstream asks
// the client something during a call, the call is held open and the client asked in an
// InputRequiredResult (pending-calls.ts); its retry goes to the held call, not to the table.
import type { IncomingHttpHeaders } from "node:http";
import { SubscriptionFilterSchema } from "@modelcontextprotocol/core";
import { TASKS_EXTENSION_ID_V2, TaskSubscriptionNotificationsV2Schema } from "@modelcontextprotocol/ext-tasks/core/v2";
import { grantOf } from "../auth/request-grants.js";
import type { ServerDirectory } from "../discovery/directory.js";
import { SessionQuotaError } from "../limits/session-quota.js";
import type { Logger } from "../log/logger.js";
import { errorResponse, ErrorCode, JsonRpcError, resultResponse, type JsonRpcId, type JsonRpcRequest, type JsonRpcResponse, type Params } from "../mcp/jsonrpc.js";
import { GATEWAY_INFO, MetaKey, Method, PER_REQUEST_PROTOCOL_VERSIONS, PerRequestErrorCode, PerRequestMethod, TaskMethod, TaskStatusNotification } from "../mcp/protocol.js";
import type { GatewayMetrics } from "../metrics/metrics.js";
import type { GatewaySession } from "../session/session.js";
import type { RedisSessionState } from "../session/shared-state.js";
import type { PerRequestChannel, PerRequestHandler, RequestMeta } from "../transport/per-request-http.js";
import type { RequestChannel } from "../transport/post-responder.js";
import type { UpstreamConnector } from "../upstream/connector.js";
import { callerOf, CallerSessions } from "./caller-sessions.js";
import { mergedInstructions, namesTasksExtension, perRequestCapabilities } from "./capabilities.js";
import { VIRTUAL_SERVER_HEADER, type MethodTable } from "./method-table.js";
import { HeldCallHop } from "./held-call-hop.js";
import { PendingCalls, type HeldCall } from "./pending-calls.js";
import { PerRequestReply, type CacheScope, type InternalCall, type UpstreamAsks } from "./per-request-reply.js";
import type { RequestStates, StateOrigin } from "./request-state.js";
import { SessionRuntime } from "./session-runtime.js";
import type { SessionUpstreamsOptions } from "./session-upstreams.js";
import { Subscriptions, type AgreedFilter } from "./subscriptions.js";
import type { TaskIds } from "./task-ids.js";
import { TaskListens } from "./task-listens.js";

export interface PerRequestBrokerOptions {
  upstreams: SessionUpstreamsOptions;
  /** Internal sessions unused this long end, and their upstream sessions with them. */
  idleTimeoutMs: number;
  maxLifetimeMs: number;
  maxSessionsPerCaller: number;
  /** Seals the state of held calls (the session-id keys, as for upstreams' InputRequiredResults). */
  requestStates: RequestStates;
  /** Opens the gateway's task ids in a listen stream's filter (the tasks extension). */
  taskIds: TaskIds;
  /** How long a call held for the client's answers waits for its retry. */
  heldCallTimeoutMs: number;
  /** With Redis, a retry that lands on another replica reaches the one holding its call. */
  shared?: RedisSessionState;
}

/** The methods the session-era table serves for this era too. */
const SHARED_METHODS: ReadonlySet<string> = new Set([
  Method.ToolsList,
  Method.ToolsCall,
  Method.PromptsList,
  Method.PromptsGet,
  Method.ResourcesList,
  Method.ResourceTemplatesList,
  Method.ResourcesRead,
  Method.CompletionComplete,
  ...Object.values(TaskMethod),
]);

/** Session-era upstreams get `_meta` without the per-request keys; progressToken and trace context stay. */
function sessionEraParams(params: Params | undefined): Params {
  const meta = params?._meta as Record<string, unknown>;
  const kept: Record<string, unknown> = {};
  for (const key of Object.keys(meta)) if (!key.startsWith("io.modelcontextprotocol/")) kept[key] = meta[key];
  const forwarded: Params = { ...params };
  if (Object.keys(kept).length > 0) forwarded._meta = kept;
  else delete forwarded._meta;
  return forwarded;
}

/** What binds a retry to its request: the caller, the method and the name (or URI) it is for. */
function originOf(request: JsonRpcRequest, headers: IncomingHttpHeaders): Omit<StateOrigin, "server"> {
  const params = request.params ?? {};
  return { caller: callerOf(headers), method: request.method, name: String(params.name ?? params.uri ?? "") };
}

/** Collects one answer of the method table, for requests the gateway makes on a listener's behalf. */
function capture(signal: AbortSignal): { channel: RequestChannel; answer: Promise<JsonRpcResponse | undefined> } {
  let settle: (response: JsonRpcResponse | undefined) => void = () => undefined;
  const answer = new Promise<JsonRpcResponse | undefined>((resolve) => (settle = resolve));
  const channel: RequestChannel = {
    signal,
    send: () => false,
    respond: settle,
    respondRaw: (id, json) => settle({ jsonrpc: "2.0", id, result: JSON.parse(json) as Record<string, unknown> }),
    abandon: () => settle(undefined),
  };
  return { channel, answer };
}

export class PerRequestBroker implements PerRequestHandler, UpstreamAsks {
  private readonly callers: CallerSessions;
  /** Calls held open while their client answers an upstream's requests. */
  private readonly held: PendingCalls;
  private readonly hop?: HeldCallHop;
  /** Serves the internal sessions: their upstream sessions and relaying. */
  private readonly runtime: SessionRuntime;
  private readonly subscriptions: Subscriptions;
  /** Task status notifications for listen streams, from listens towards the upstreams holding the tasks. */
  private readonly taskListens: TaskListens;
  private nextInternalId = 1;

  constructor(
    private readonly table: MethodTable,
    private readonly directory: ServerDirectory,
    connector: UpstreamConnector,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
    options: PerRequestBrokerOptions,
  ) {
    this.callers = new CallerSessions({ idleTimeoutMs: options.idleTimeoutMs, maxLifetimeMs: options.maxLifetimeMs, maxSessionsPerCaller: options.maxSessionsPerCaller, log });
    this.runtime = new SessionRuntime(this.callers.store, directory, connector, log, options.upstreams);
    this.held = new PendingCalls(options.requestStates, options.heldCallTimeoutMs);
    if (options.shared) {
      // The holder answers within a Redis command's time; the call itself within the upstream timeout.
      this.hop = new HeldCallHop(this.held, options.shared, log, { ackTimeoutMs: options.shared.options.commandTimeoutMs, maxWaitMs: options.upstreams.requestTimeoutMs });
      this.held.hop = this.hop;
    }
    this.subscriptions = new Subscriptions((session, id) => this.refuseUpstreamRequest(session, id, false, undefined));
    this.taskListens = new TaskListens(directory, connector, options.taskIds, log, options.upstreams.requestTimeoutMs);
    directory.on("listChanged", (kinds) => this.subscriptions.announce(kinds));
  }

  /** Starts expiring internal sessions and idle upstream sessions, and (with Redis) taking retries of held calls from other replicas. */
  async start(): Promise<void> {
    await this.runtime.start();
    // Not awaited: the subscription completes (and is renewed) whenever Redis is there.
    this.hop?.start().catch((err: unknown) => this.log.warn({ err: (err as Error).message }, "shared store unavailable; retries of held calls from other replicas wait for it"));
  }

  /** Shutdown: listen streams end gracefully, internal sessions end with their upstream sessions. */
  async closeAll(): Promise<void> {
    this.subscriptions.closeAll();
    this.hop?.close();
    this.held.closeAll();
    await this.runtime.closeAll();
  }

  onRequest(request: JsonRpcRequest, meta: RequestMeta, channel: PerRequestChannel, headers: IncomingHttpHeaders): void {
    if (request.method === PerRequestMethod.ServerDiscover) {
      channel.respond(resultResponse(request.id, this.discover(headers)));
      this.metrics.request(request.method, "ok");
      return;
    }
    if (request.method === PerRequestMethod.SubscriptionsListen) {
      this.settle(this.listen(request, meta, channel, headers), request, channel);
      return;
    }
    // Removed methods (initialize, ping, logging/setLevel, resources/subscribe, ...) are unknown here.
    if (!SHARED_METHODS.has(request.method)) {
      channel.respond(errorResponse(request.id, ErrorCode.MethodNotFound, `Method not found: ${request.method}`));
      this.metrics.request("other", "error");
      return;
    }
    this.settle(this.serve(request, meta, channel, headers), request, channel);
  }

  /** A failure of the gateway itself still answers the request. */
  private settle(work: Promise<void>, request: JsonRpcRequest, channel: RequestChannel): void {
    work.catch((err: unknown) => {
      this.log.error({ err, method: request.method }, "request failed");
      channel.respond(errorResponse(request.id, ErrorCode.InternalError, `internal error: ${(err as Error).message}`));
    });
  }

  private discover(headers: IncomingHttpHeaders): Record<string, unknown> {
    const catalog = this.directory.catalog;
    const result: Record<string, unknown> = {
      resultType: "complete",
      supportedVersions: [...PER_REQUEST_PROTOCOL_VERSIONS],
      capabilities: perRequestCapabilities(catalog),
      _meta: { [MetaKey.ServerInfo]: GATEWAY_INFO },
      ttlMs: 0,
      cacheScope: this.listScope(headers),
    };
    const instructions = mergedInstructions(catalog);
    if (instructions) result.instructions = instructions;
    return result;
  }

  /** Lists are the same for every caller unless a grant or a virtual server narrows them. */
  private listScope(headers: IncomingHttpHeaders): CacheScope {
    return grantOf(headers) || headers[VIRTUAL_SERVER_HEADER] ? "private" : "public";
  }

  private async serve(request: JsonRpcRequest, meta: RequestMeta, channel: RequestChannel, headers: IncomingHttpHeaders): Promise<void> {
    if (this.held.isRetry(request.params)) {
      this.retry(request, meta, channel, headers);
      return;
    }
    let session: GatewaySession;
    try {
      session = await this.callers.sessionFor(headers, meta);
    } catch (err) {
      if (!(err instanceof SessionQuotaError)) throw err;
      channel.respond(errorResponse(request.id, ErrorCode.TransportError, `${err.message} (one internal session per distinct set of client capabilities)`));
      return;
    }
    // Under an id of its own: clients of this era may reuse ids freely, the table's in-flight map must not see that.
    const internal: InternalCall = { session, headers, request, id: this.internalId(), asks: this };
    const reply = new PerRequestReply(channel, { id: request.id, method: request.method, meta, cacheScope: this.cacheScope(request, headers), internal });
    this.table.serve({ session, request: { jsonrpc: "2.0", id: internal.id, method: request.method, params: sessionEraParams(request.params) }, channel: reply, headers, runtime: this.runtime, meta });
  }

  /** A read's contents may be the caller's own: nobody else should be served them from a cache. */
  private cacheScope(request: JsonRpcRequest, headers: IncomingHttpHeaders): CacheScope {
    return request.method === Method.ResourcesRead ? "private" : this.listScope(headers);
  }

  /** A retry with the answers to a held call's questions: the held call answers it. */
  private retry(request: JsonRpcRequest, meta: RequestMeta, channel: RequestChannel, headers: IncomingHttpHeaders): void {
    const reply = new PerRequestReply(channel, { id: request.id, method: request.method, meta, cacheScope: this.cacheScope(request, headers) });
    try {
      this.held.retry(request.params ?? {}, originOf(request, headers), reply, headers);
      this.metrics.request(request.method, "ok");
    } catch (err) {
      if (!(err instanceof JsonRpcError)) throw err;
      channel.respond(errorResponse(request.id, err.code, err.message, err.data));
      this.metrics.request(request.method, "error");
    }
  }

  /** An upstream asked a client that can answer: the call is held open and the client asked in an InputRequiredResult. */
  hold(call: InternalCall, reply: PerRequestReply): HeldCall {
    return this.held.hold({ client: reply, session: call.session, relay: this.runtime.relay, headers: call.headers, internalId: call.id, origin: originOf(call.request, call.headers) });
  }

  refuse(call: InternalCall, gatewayId: JsonRpcId, declared: boolean): void {
    this.refuseUpstreamRequest(call.session, gatewayId, declared, call.headers);
  }

  private internalId(): JsonRpcId {
    return `pr-${this.nextInternalId++}`;
  }

  /**
   * An upstream asked the client something (sampling, elicitation, roots) that cannot reach it: a
   * capability it did not declare, or a request that cannot answer with an InputRequiredResult
   * (completion, a subscription). The upstream is told at once instead of waiting for its timeout.
   */
  private refuseUpstreamRequest(session: GatewaySession, gatewayId: JsonRpcId, declared: boolean, headers: IncomingHttpHeaders | undefined): void {
    const refusal = declared
      ? errorResponse(gatewayId, ErrorCode.InternalError, "the gateway cannot pass requests to a 2026-07-28 client during a call")
      : errorResponse(gatewayId, ErrorCode.MethodNotFound, "the client did not declare this capability");
    void this.runtime.relay.answerUpstream(session, refusal, headers);
  }

  /**
   * subscriptions/listen: the acknowledgment says what the stream will carry (of what was asked:
   * list changes always, the resource URIs the caller may read and an upstream let it subscribe
   * to, the caller's own tasks whose upstream agreed to report on them), then notifications follow
   * until the client closes the stream.
   */
  private async listen(request: JsonRpcRequest, meta: RequestMeta, channel: PerRequestChannel, headers: IncomingHttpHeaders): Promise<void> {
    const notifications = request.params?.notifications ?? {};
    const parsed = SubscriptionFilterSchema.safeParse(notifications);
    const tasks = TaskSubscriptionNotificationsV2Schema.safeParse(notifications);
    if (!parsed.success || !tasks.success) {
      const issue = (parsed.error ?? tasks.error)?.issues[0];
      channel.respond(errorResponse(request.id, ErrorCode.InvalidParams, `Invalid params: notifications: ${issue ? `${issue.path.join(".")}: ${issue.message}` : "invalid"}`));
      return;
    }
    const wanted = parsed.data;
    const taskIds = tasks.data.taskIds;
    // The extension: task notifications only for a client that declared it.
    if (taskIds && taskIds.length > 0 && !namesTasksExtension(meta.clientCapabilities)) {
      channel.respond(errorResponse(request.id, PerRequestErrorCode.MissingRequiredClientCapability, `task status notifications need the client capability ${TASKS_EXTENSION_ID_V2}`, { requiredCapabilities: { extensions: { [TASKS_EXTENSION_ID_V2]: {} } } }));
      return;
    }
    const agreed: AgreedFilter = {};
    if (wanted.toolsListChanged) agreed.toolsListChanged = true;
    if (wanted.promptsListChanged) agreed.promptsListChanged = true;
    if (wanted.resourcesListChanged) agreed.resourcesListChanged = true;
    let session: GatewaySession | undefined;
    if (wanted.resourceSubscriptions && wanted.resourceSubscriptions.length > 0) {
      session = await this.callers.sessionFor(headers, meta);
      agreed.resourceSubscriptions = await this.subscribeAll(session, wanted.resourceSubscriptions, channel.signal, headers);
    }
    // Notifications of a task may come before this stream is acknowledged: they wait for it.
    const early: Array<Record<string, unknown>> = [];
    let deliverNow = (params: Record<string, unknown>): void => void early.push(params);
    const deliver = (params: Record<string, unknown>) => deliverNow(params);
    // The streams towards upstreams end with this one, whoever ends it.
    const ended = new AbortController();
    const signal = AbortSignal.any([channel.signal, ended.signal]);
    const taskListen = taskIds ? await this.taskListens.open({ taskIds, headers, meta, signal, deliver }) : undefined;
    if (taskListen) agreed.taskIds = taskListen.agreed;
    if (channel.signal.aborted) return;
    channel.hold();
    this.metrics.request(request.method, "ok");
    const stream = this.subscriptions.open(request.id, agreed, channel, session);
    deliverNow = (params) => stream.send(TaskStatusNotification, params);
    for (const params of early.splice(0)) deliverNow(params);
    // An upstream's stream for the caller's tasks ended: what the stream agreed to can no longer be kept, so it ends too (the client may listen again).
    void taskListen?.lost.then(() => stream.end());
    await stream.closed;
    ended.abort();
    if (!session) return;
    // What no other stream of the session still wants is unsubscribed upstream.
    const still = stream.uris();
    for (const uri of agreed.resourceSubscriptions ?? []) if (!still.has(uri)) void this.tableRequest(session, Method.ResourcesUnsubscribe, { uri }, new AbortController().signal, headers);
  }

  /** The URIs the upstreams accepted subscriptions to, in the order asked. */
  private async subscribeAll(session: GatewaySession, uris: string[], signal: AbortSignal, headers: IncomingHttpHeaders): Promise<string[]> {
    const answers = await Promise.all(uris.map((uri) => this.tableRequest(session, Method.ResourcesSubscribe, { uri }, signal, headers)));
    return uris.filter((_uri, i) => {
      const answer = answers[i];
      return answer !== undefined && "result" in answer;
    });
  }

  private tableRequest(session: GatewaySession, method: string, params: Params, signal: AbortSignal, headers: IncomingHttpHeaders): Promise<JsonRpcResponse | undefined> {
    const { channel, answer } = capture(signal);
    this.table.serve({ session, request: { jsonrpc: "2.0", id: this.internalId(), method, params }, channel, headers, runtime: this.runtime });
    return answer;
  }
}
