// The answer to one per-request-era request that the session-era method table serves: a channel
// between the Broker and the client's channel that turns what the table writes into the
// 2026-07-28 shape. The client's id comes back (the table ran under an internal one), every
// result gets `resultType` and the cacheable ones caching hints, `-32002` becomes `-32602`, log
// messages pass only at the level the request asked for. An upstream's request to the client
// during a call (sampling, elicitation, roots: 2026-07-28 has no such requests) holds the call open
// (broker/pending-calls.ts) when the client declared the capability and the method may answer
// with an InputRequiredResult; otherwise it is answered for the client at once.
import type { IncomingHttpHeaders } from "node:http";
import { isClientRequestMethod, missingClientCapabilities, unionCapabilities } from "../mcp/capabilities.js";
import { errorResponse, ErrorCode, isNotification, isRequest, resultResponse, type JsonRpcId, type JsonRpcMessage, type JsonRpcRequest, type JsonRpcResponse, type Params } from "../mcp/jsonrpc.js";
import { Method, Notification, PerRequestErrorCode, PerRequestMethod } from "../mcp/protocol.js";
import type { GatewaySession } from "../session/session.js";
import type { RequestChannel } from "../transport/post-responder.js";
import type { RequestMeta } from "../transport/per-request-http.js";
import type { HeldCall, HeldCallClient } from "./pending-calls.js";

/** The results 2026-07-28 says carry `ttlMs` and `cacheScope`. */
const CACHEABLE: ReadonlySet<string> = new Set([
  PerRequestMethod.ServerDiscover,
  Method.ToolsList,
  Method.PromptsList,
  Method.ResourcesList,
  Method.ResourceTemplatesList,
  Method.ResourcesRead,
]);

/** The requests 2026-07-28 lets answer with an InputRequiredResult (MRTR, "Supported Requests"). */
const MAY_ASK: ReadonlySet<string> = new Set([Method.ToolsCall, Method.PromptsGet, Method.ResourcesRead]);

const LOG_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"];

export type CacheScope = "public" | "private";

export interface ReplyOptions {
  /** The client's id for the request. */
  id: JsonRpcId;
  method: string;
  meta: RequestMeta;
  /** The scope of a cacheable result that says none itself (what the gateway knows of who may share it). */
  cacheScope: CacheScope;
  /** The call as the method table runs it; absent on a retry's reply, which the table never writes to. */
  internal?: InternalCall;
}

/** A request the method table serves on an internal session: what an upstream's request during it needs. */
export interface InternalCall {
  session: GatewaySession;
  headers: IncomingHttpHeaders;
  /** The client's request, as it came. */
  request: JsonRpcRequest;
  /** The id the table runs it under. */
  id: JsonRpcId;
  asks: UpstreamAsks;
}

/** What becomes of an upstream's request to the client during a call. */
export interface UpstreamAsks {
  /** Answered at once: `declared` says whether the client has the capability the request needs. */
  refuse(call: InternalCall, gatewayId: JsonRpcId, declared: boolean): void;
  /** The call is held open, and its reply hands on to it from now on. */
  hold(call: InternalCall, reply: PerRequestReply): HeldCall;
}

/** The hints a cacheable result gets when its upstream gave none: fresh for no time, so nothing stale is served. */
function withCacheHints(result: Record<string, unknown>, scope: CacheScope): void {
  if (typeof result.ttlMs !== "number" || result.ttlMs < 0) result.ttlMs = 0;
  if (result.cacheScope !== "public" && result.cacheScope !== "private") result.cacheScope = scope;
}

/**
 * Towards the method table a RequestChannel; towards a held call (once an upstream asked the
 * client something) the client's side of it, like the reply of each retry.
 */
export class PerRequestReply implements RequestChannel, HeldCallClient {
  /** Capabilities an upstream needed during the call that the request did not declare. */
  private missing?: Record<string, unknown>;
  private readonly minLogLevel: number;
  /** Set once an upstream's request held the call open: what the table writes goes there. */
  private held?: HeldCall;

  constructor(
    private readonly client: RequestChannel,
    private readonly options: ReplyOptions,
  ) {
    const level = options.meta.logLevel;
    this.minLogLevel = level === undefined ? Infinity : LOG_LEVELS.indexOf(level);
  }

  get signal(): AbortSignal {
    return this.client.signal;
  }

  send(message: JsonRpcMessage): boolean {
    if (isRequest(message)) {
      this.upstreamAsked(message);
      return true;
    }
    return this.held ? this.held.notify(message) : this.pass(message);
  }

  respond(response: JsonRpcResponse): void {
    const final = this.missing ? this.missingCapabilities(this.missing) : response;
    if (this.held) this.held.completed(final);
    else this.answer(final);
  }

  /** List pages come serialized once per catalog version: the fields go in front rather than through a parse. */
  respondRaw(id: JsonRpcId, resultJson: string): void {
    if (this.held) {
      this.held.completed(resultResponse(id, JSON.parse(resultJson) as Record<string, unknown>));
      return;
    }
    const fields = `"resultType":"complete"${CACHEABLE.has(this.options.method) ? `,"ttlMs":0,"cacheScope":"${this.options.cacheScope}"` : ""}`;
    const rest = resultJson.slice(1).trimStart();
    this.client.respondRaw(this.options.id, `{${fields}${rest.startsWith("}") ? "" : ","}${rest}`);
  }

  abandon(): void {
    if (this.held) this.held.abandoned();
    else this.client.abandon();
  }

  /** The request's answer in the 2026-07-28 shape, under the client's id. */
  answer(response: JsonRpcResponse): void {
    if ("error" in response) {
      // 2026-07-28 replaced "resource not found" (-32002) by invalid params.
      const code = response.error.code === ErrorCode.ResourceNotFound ? ErrorCode.InvalidParams : response.error.code;
      this.client.respond(errorResponse(this.options.id, code, response.error.message, response.error.data));
      return;
    }
    const result: Record<string, unknown> = { ...response.result };
    if (typeof result.resultType !== "string") result.resultType = "complete";
    if (CACHEABLE.has(this.options.method) && result.resultType === "complete") withCacheHints(result, this.options.cacheScope);
    this.client.respond({ jsonrpc: "2.0", id: this.options.id, result });
  }

  inputRequired(inputRequests: Record<string, { method: string; params?: Params }>, requestState: string): void {
    this.client.respond(resultResponse(this.options.id, { resultType: "input_required", inputRequests, requestState }));
  }

  /** A notification of the call, at the request's log level; withdrawals of upstream requests the client never saw stay here. */
  pass(message: JsonRpcMessage): boolean {
    if (isNotification(message)) {
      // Without a logLevel the request asked for no log messages (2026-07-28, logging).
      if (message.method === Notification.Message && !(LOG_LEVELS.indexOf(String(message.params?.level)) >= this.minLogLevel)) return true;
      if (message.method === Notification.Cancelled) return true;
    }
    return this.client.send(message);
  }

  /**
   * An upstream asked the client something (by its gateway id). A declared capability (mode-aware,
   * as for the other bridge: mcp/capabilities.ts) on a request that may answer with an
   * InputRequiredResult holds the call open; else the upstream is answered at once, and an
   * undeclared capability makes the call's answer -32021.
   */
  private upstreamAsked(request: JsonRpcRequest): void {
    const internal = this.options.internal;
    if (!internal) return;
    const known = isClientRequestMethod(request.method);
    const missing = known ? missingClientCapabilities(request.method, request.params, this.options.meta.clientCapabilities) : undefined;
    const declared = known && !missing;
    if (declared && MAY_ASK.has(this.options.method)) {
      (this.held ??= internal.asks.hold(internal, this)).ask(request);
      return;
    }
    if (missing) this.missing = unionCapabilities(this.missing ?? {}, missing);
    internal.asks.refuse(internal, request.id, declared);
  }

  private missingCapabilities(missing: Record<string, unknown>): JsonRpcResponse {
    return errorResponse(this.options.id, PerRequestErrorCode.MissingRequiredClientCapability, `the request needs client capabilities it did not declare: ${Object.keys(missing).join(", ")}`, {
      requiredCapabilities: missing,
    });
  }
}
