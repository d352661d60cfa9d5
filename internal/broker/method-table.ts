// The method table both eras serve: one handler per MCP method (as in the MCP SDK's request
// handler table), era-neutral. Lists come from the catalog; calls, reads, prompts and completions
// are routed to the upstream that owns the name or URI, on the gateway session's upstream session
// for it; grants and virtual servers decide what a caller sees. A front end (session era,
// per-request era) decides which of these methods it offers and brings the session and channel.
import type { IncomingHttpHeaders } from "node:http";
import { CancelTaskRequestV2Schema, GetTaskRequestV2Schema, TASKS_EXTENSION_ID_V2, UpdateTaskRequestV2Schema } from "@modelcontextprotocol/ext-tasks/core/v2";
import type { ListKind, Route } from "../catalog/catalog.js";
import type { ListFilter, ListPages } from "../catalog/pages.js";
import type { ServerDirectory } from "../discovery/directory.js";
import type { Logger } from "../log/logger.js";
import { grantOf } from "../auth/request-grants.js";
import { combineFilters } from "../auth/tool-grant.js";
import { errorResponse, ErrorCode, JsonRpcError, resultResponse, type JsonRpcErrorObject, type JsonRpcRequest, type Params } from "../mcp/jsonrpc.js";
import { isPerRequestProtocolVersion, Method, PerRequestErrorCode, TaskMethod } from "../mcp/protocol.js";
import type { GatewayMetrics } from "../metrics/metrics.js";
import type { GatewaySession, InflightCall } from "../session/session.js";
import type { RequestChannel } from "../transport/post-responder.js";
import type { RequestMeta } from "../transport/per-request-http.js";
import { upstreamTarget, type UpstreamConnector } from "../upstream/connector.js";
import { describeUpstreamError, UpstreamRejectedError, UpstreamTimeoutError } from "../upstream/errors.js";
import { PerRequestUpstream, type PerRequestMeta } from "../upstream/per-request.js";
import { RequestAbort } from "../upstream/request-abort.js";
import { clientToken } from "./client-token.js";
import { callerOf } from "./caller-sessions.js";
import { namesTasksExtension, withoutTasksExtension } from "./capabilities.js";
import { completeWithClientInput, type BridgedCall } from "./input-bridge.js";
import type { RequestStates, StateOrigin } from "./request-state.js";
import type { SessionRuntime } from "./session-runtime.js";
import { taskNotFound, type TaskIds } from "./task-ids.js";

export interface MethodTableOptions {
  /** Longest time a forwarded request may take. */
  requestTimeoutMs: number;
  /** Resource subscriptions one session may hold; 0 = no limit. */
  maxSubscriptionsPerSession: number;
  /** Wraps the requestState of upstreams' InputRequiredResults. */
  requestStates: RequestStates;
  /** Wraps the task ids of upstreams' CreateTaskResults (the tasks extension). */
  taskIds: TaskIds;
}

/** One request as the table serves it: the id is the one the session tracks it under. */
export interface Call {
  session: GatewaySession;
  request: JsonRpcRequest;
  channel: RequestChannel;
  headers: IncomingHttpHeaders;
  /** What serves the session: its upstream sessions and relaying. */
  runtime: SessionRuntime;
  /** The request's own `_meta` declarations, for a request of the per-request era. */
  meta?: RequestMeta;
}

type Reply = { result: Record<string, unknown> } | { raw: string } | { error: JsonRpcErrorObject } | { none: true };

type MethodHandler = (call: Call, params: Params) => Reply | Promise<Reply>;

export const VIRTUAL_SERVER_HEADER = "x-mcp-virtualserver";

const KNOWN_METHODS = new Set<string>([...Object.values(Method), ...Object.values(TaskMethod)]);

function invalidParams(message: string): JsonRpcError {
  return new JsonRpcError(ErrorCode.InvalidParams, message);
}

/** The params of the tasks extension's methods (its own schemas). */
const TASK_PARAMS: ReadonlyMap<string, typeof GetTaskRequestV2Schema.shape.params | typeof UpdateTaskRequestV2Schema.shape.params> = new Map([
  [TaskMethod.Get, GetTaskRequestV2Schema.shape.params],
  [TaskMethod.Update, UpdateTaskRequestV2Schema.shape.params],
  [TaskMethod.Cancel, CancelTaskRequestV2Schema.shape.params],
]);

function stringParam(params: Params, key: string): string {
  const value = params[key];
  if (typeof value !== "string" || value === "") throw invalidParams(`params.${key} must be a non-empty string`);
  return value;
}

export class MethodTable {
  private readonly handlers: Readonly<Record<string, MethodHandler>> = {
    [Method.Ping]: () => ({ result: {} }),
    [Method.ToolsList]: (call, params) => this.page(call, params, "tools"),
    [Method.ToolsCall]: (call, params) => this.callTool(call, params),
    [Method.PromptsList]: (call, params) => this.page(call, params, "prompts"),
    [Method.PromptsGet]: (call, params) => {
      const route = this.promptRoute(stringParam(params, "name"), call.headers);
      return this.forward(call, route, { ...params, name: route.upstreamName });
    },
    [Method.ResourcesList]: (call, params) => this.page(call, params, "resources"),
    [Method.ResourceTemplatesList]: (call, params) => this.page(call, params, "resourceTemplates"),
    [Method.ResourcesRead]: (call, params) => this.forward(call, this.resourceRoute(params, call.headers), params),
    [Method.ResourcesSubscribe]: (call, params) => this.subscribe(call, params),
    [Method.ResourcesUnsubscribe]: (call, params) => this.unsubscribe(call, params),
    [Method.CompletionComplete]: (call, params) => this.complete(call, params),
    [Method.LoggingSetLevel]: (call, params) => this.setLogLevel(call, stringParam(params, "level")),
    [TaskMethod.Get]: (call, params) => this.task(call, params),
    [TaskMethod.Update]: (call, params) => this.task(call, params),
    [TaskMethod.Cancel]: (call, params) => this.task(call, params),
  };

  constructor(
    private readonly directory: ServerDirectory,
    private readonly pages: ListPages,
    private readonly connector: UpstreamConnector,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
    private readonly options: MethodTableOptions,
  ) {}

  has(method: string): boolean {
    return Object.hasOwn(this.handlers, method);
  }

  /** Serves one request: its answer (or nothing, when cancelled) goes to the call's channel. */
  serve(call: Call): void {
    const { request, channel } = call;
    const started = performance.now();
    const method = KNOWN_METHODS.has(request.method) ? request.method : "other";
    void this.dispatch(call)
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

  private async dispatch(call: Call): Promise<Reply> {
    const handler = Object.hasOwn(this.handlers, call.request.method) ? this.handlers[call.request.method] : undefined;
    if (!handler) throw new JsonRpcError(ErrorCode.MethodNotFound, `Method not found: ${call.request.method}`);
    return handler(call, call.request.params ?? {});
  }

  private page(call: Call, params: Params, kind: ListKind): Reply {
    return { raw: this.pages.page(kind, params.cursor, this.filterFor(call.headers, kind)) };
  }

  private callTool(call: Call, params: Params): Promise<Reply> {
    const { headers } = call;
    const name = stringParam(params, "name");
    // A tool the caller is not granted is unknown to it: the refusal must not reveal that it exists.
    if (!(grantOf(headers)?.allows(name) ?? true)) throw invalidParams(`Unknown tool: ${name}`);
    const filter = this.virtualServerFilter(headers, "tools");
    if (filter && !filter.allows(name)) throw invalidParams(`Unknown tool: ${name} (not part of virtual server ${String(headers[VIRTUAL_SERVER_HEADER])})`);
    const route = this.directory.catalog.findTool(name);
    if (!route) throw invalidParams(`Unknown tool: ${name}`);
    return this.forward(call, route, { ...params, name: route.upstreamName });
  }

  private async subscribe(call: Call, params: Params): Promise<Reply> {
    const { session, headers, runtime } = call;
    const route = this.resourceRoute(params, headers);
    const uri = params.uri as string;
    const max = this.options.maxSubscriptionsPerSession;
    if (!session.maySubscribe(uri, max)) throw new JsonRpcError(ErrorCode.InvalidRequest, `the session already holds ${max} subscriptions; unsubscribe from one first`);
    const reply = await this.forward(call, route, params);
    if ("result" in reply) {
      session.subscribe(uri, route.server.name);
      runtime.store.recordSubscription(session, uri);
      await runtime.upstreams.listen(session, route.server, headers);
    }
    return reply;
  }

  private async unsubscribe(call: Call, params: Params): Promise<Reply> {
    const reply = await this.forward(call, this.resourceRoute(params, call.headers), params);
    call.session.unsubscribe(params.uri as string);
    call.runtime.store.recordSubscription(call.session, params.uri as string);
    return reply;
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

  private complete(call: Call, params: Params): Promise<Reply> {
    const ref = (params.ref ?? {}) as { type?: unknown; name?: unknown; uri?: unknown };
    if (ref.type === "ref/prompt" && typeof ref.name === "string") {
      const route = this.promptRoute(ref.name, call.headers);
      return this.forward(call, route, { ...params, ref: { ...ref, name: route.upstreamName } });
    }
    if (ref.type === "ref/resource" && typeof ref.uri === "string") {
      const route = this.directory.catalog.findTemplate(ref.uri);
      if (!route || !this.resourceVisible(call.headers, ref.uri, route)) throw new JsonRpcError(ErrorCode.ResourceNotFound, `Resource not found: ${ref.uri}`, { uri: ref.uri });
      return this.forward(call, route, params);
    }
    throw invalidParams("params.ref must be a ref/prompt with a name or a ref/resource with a uri");
  }

  /** Remembered for the session and applied to each of its upstream sessions, now and when they open. */
  private async setLogLevel(call: Call, level: string): Promise<Reply> {
    const { session, runtime } = call;
    session.setLogLevel(level);
    runtime.store.recordLogLevel(session);
    await runtime.upstreams.forEach(session, call.headers, async (upstream, authorization) => {
      if (upstream.initializeResult?.capabilities.logging) await upstream.request(Method.LoggingSetLevel, { level }, { timeoutMs: this.options.requestTimeoutMs, authorization });
    });
    return { result: {} };
  }

  /** What one request may see of a list: its virtual server, narrowed by any verified grant. */
  filterFor(headers: IncomingHttpHeaders, kind: ListKind): ListFilter | undefined {
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

  /**
   * Whether a call goes to its upstream per request, and with which `_meta`: a 2026-07-28 request
   * does where the upstream offers that era; a session-era one only where the upstream offers no
   * sessions, declaring what the client declared at initialize.
   */
  private perRequestMeta(call: Call, server: string): PerRequestMeta | undefined {
    const snapshot = this.directory.discovery(server)?.snapshot;
    const version = snapshot?.perRequestVersion;
    if (!version) return undefined;
    if (call.meta) return { ...call.meta, protocolVersion: version };
    if (!isPerRequestProtocolVersion(snapshot.protocolVersion)) return undefined;
    const { session } = call;
    // The tasks extension does not exist in the session era: such a client gets no tasks.
    return { protocolVersion: version, clientCapabilities: withoutTasksExtension(session.init.clientCapabilities), clientInfo: session.init.clientInfo, logLevel: session.logLevel };
  }

  /**
   * tasks/get, tasks/update and tasks/cancel (the tasks extension, per request only): the
   * gateway's task id says which upstream holds the task; that upstream gets its own id, and an
   * answer that names the task names it by the gateway's id again.
   */
  private async task(call: Call, params: Params): Promise<Reply> {
    const { meta, request } = call;
    if (!meta) throw new JsonRpcError(ErrorCode.MethodNotFound, `Method not found: ${request.method}`);
    if (!namesTasksExtension(meta.clientCapabilities)) {
      throw new JsonRpcError(PerRequestErrorCode.MissingRequiredClientCapability, `${request.method} needs the client capability ${TASKS_EXTENSION_ID_V2}`, {
        requiredCapabilities: { extensions: { [TASKS_EXTENSION_ID_V2]: {} } },
      });
    }
    const parsed = TASK_PARAMS.get(request.method)?.safeParse(params);
    if (!parsed?.success) {
      const issue = parsed?.error.issues[0];
      throw invalidParams(`Invalid params: ${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`);
    }
    const taskId = parsed.data.taskId;
    const origin = this.options.taskIds.open(taskId, callerOf(call.headers));
    const server = this.directory.server(origin.server);
    if (!server) throw taskNotFound(`its server ${origin.server} is no longer served`);
    if (!this.directory.discovery(server.name)?.snapshot?.perRequestVersion) return { error: { code: ErrorCode.UpstreamUnavailable, message: `upstream ${server.name}: not connected` } };
    const reply = await this.forward(call, { server, upstreamName: origin.upstreamTaskId }, { ...params, taskId: origin.upstreamTaskId });
    return "result" in reply && reply.result.taskId !== undefined ? { result: { ...reply.result, taskId } } : reply;
  }

  /** An upstream's CreateTaskResult: the client gets the gateway's id for the task, if it can take a task at all. */
  private taskCreated(call: Call, server: string, result: Record<string, unknown>): Reply {
    if (!call.meta || !namesTasksExtension(call.meta.clientCapabilities)) return { error: { code: ErrorCode.UpstreamUnavailable, message: `upstream ${server}: answered with a task, which the client did not declare it takes` } };
    if (typeof result.taskId !== "string") return { error: { code: ErrorCode.UpstreamUnavailable, message: `upstream ${server}: answered with a task without a taskId` } };
    return { result: { ...result, taskId: this.options.taskIds.seal(server, callerOf(call.headers), result.taskId) } };
  }

  /** Sends the request to the route's upstream (on the session's upstream session, or per request) and waits for its answer, relaying what comes before. */
  private async forward(call: Call, route: Route, params: Params): Promise<Reply> {
    const { session, request, channel, headers, runtime } = call;
    // Shapes every MCP request shares: a bad one is the client's error, not the upstream's.
    for (const key of ["_meta", "arguments"]) {
      const value = params[key];
      if (value !== undefined && (typeof value !== "object" || value === null || Array.isArray(value))) throw invalidParams(`params.${key} must be an object`);
    }
    const server = route.server;
    const authorization = clientToken(server, headers);
    const perRequest = this.perRequestMeta(call, server.name);
    // A multi round-trip request: the retry's state is the gateway's, bound to this upstream and caller.
    const origin: StateOrigin | undefined = perRequest && call.meta ? { server: server.name, caller: callerOf(headers), method: request.method, name: String(params.name ?? params.uri ?? "") } : undefined;
    if (origin && params.requestState !== undefined) {
      const own = this.options.requestStates.open(params.requestState, origin);
      params = { ...params };
      if (own === undefined) delete params.requestState;
      else params.requestState = own;
    }
    const inflight: InflightCall = { server: server.name, abort: new RequestAbort(), authorization, stream: channel };
    // A second request under an id still in flight would take over the first one's cancellation and answer.
    if (!session.beginCall(request.id, inflight)) throw new JsonRpcError(ErrorCode.InvalidRequest, `request id ${JSON.stringify(request.id)} is already in flight in this session`);
    // The client going away ends the call as its cancellation does.
    const clientGone = () => inflight.abort.abort();
    if (channel.signal.aborted) clientGone();
    else channel.signal.addEventListener("abort", clientGone, { once: true });
    const started = performance.now();
    try {
      const progressToken = (params._meta as { progressToken?: unknown } | undefined)?.progressToken;
      if (perRequest) {
        // No upstream session: the request says who asks, and closing it is its cancellation.
        const upstream = new PerRequestUpstream(this.connector, upstreamTarget(server, server.credential ? { authorization: server.credential } : {}));
        const options: BridgedCall["options"] = {
          meta: perRequest,
          timeoutMs: this.options.requestTimeoutMs,
          abort: inflight.abort,
          // For the bridge's own waits for the client, when an upstream asks for input.
          signal: inflight.abort.signal,
          authorization,
          onMessage: (message) => runtime.relay.duringPerRequestCall(message, channel, progressToken),
        };
        const response = await upstream.request(request.method, params, options);
        if ("error" in response) return { error: response.error };
        const result = response.result;
        if (result.resultType === "task") return this.taskCreated(call, server.name, result);
        if (result.resultType !== "input_required") return { result };
        // A 2026-07-28 client retries itself, with the gateway's state; a session-era client knows no
        // InputRequiredResult, so the gateway asks it for the input and retries for it.
        if (origin) return { result: { ...result, requestState: this.options.requestStates.seal(origin, typeof result.requestState === "string" ? result.requestState : undefined) } };
        return await completeWithClientInput({ session, channel, server: server.name, method: request.method, params, upstream, options, deadline: started + this.options.requestTimeoutMs }, result);
      }
      const upstream = await runtime.upstreams.upstreamFor(session, server, headers);
      // Cancelled while the upstream session was opened: the request is never sent.
      if (inflight.abort.aborted) return { none: true };
      inflight.upstream = upstream;
      const response = await upstream.request(request.method, params, {
        timeoutMs: this.options.requestTimeoutMs,
        abort: inflight.abort,
        onUpstreamId: (id) => (inflight.upstreamId = id),
        authorization,
        onMessage: (message) => runtime.relay.duringCall(session, server.name, upstream, message, channel, progressToken),
      });
      return "error" in response ? { error: response.error } : { result: response.result };
    } catch (err) {
      if (inflight.abort.aborted) return { none: true };
      if (err instanceof UpstreamRejectedError) return { error: err.error };
      const reason = describeUpstreamError(err);
      this.log.debug({ session: session.id, server: server.name, method: request.method, err: reason }, "forwarded request failed");
      if (err instanceof UpstreamTimeoutError) {
        void runtime.relay.tellUpstreamCancelled(inflight, { reason: "timed out at the gateway" });
      } else {
        this.directory.discovery(server.name)?.checkNow();
      }
      return { error: { code: err instanceof UpstreamTimeoutError ? ErrorCode.UpstreamTimeout : ErrorCode.UpstreamUnavailable, message: `upstream ${server.name}: ${reason}` } };
    } finally {
      channel.signal.removeEventListener("abort", clientGone);
      session.endCall(request.id);
      this.metrics.upstreamRequest(server.name, request.method, (performance.now() - started) / 1000);
    }
  }
}
