// The answer to one per-request-era request that the session-era method table serves: a channel
// between the Broker and the client's channel that turns what the table writes into the
// 2026-07-28 shape. The client's id comes back (the table ran under an internal one), every
// result gets `resultType` and the cacheable ones caching hints, `-32002` becomes `-32602`, log
// messages pass only at the level the request asked for, and an upstream's request to the client
// (there are none in 2026-07-28) is answered for it.
import { errorResponse, ErrorCode, isNotification, isRequest, type JsonRpcId, type JsonRpcMessage, type JsonRpcResponse } from "../mcp/jsonrpc.js";
import { Method, Notification, PerRequestErrorCode, PerRequestMethod } from "../mcp/protocol.js";
import type { RequestChannel } from "../transport/post-responder.js";
import type { RequestMeta } from "../transport/per-request-http.js";

/** The results 2026-07-28 says carry `ttlMs` and `cacheScope`. */
const CACHEABLE: ReadonlySet<string> = new Set([
  PerRequestMethod.ServerDiscover,
  Method.ToolsList,
  Method.PromptsList,
  Method.ResourcesList,
  Method.ResourceTemplatesList,
  Method.ResourcesRead,
]);

/** The client capability each server-to-client request of the session era needs. */
const CAPABILITY_OF: Record<string, string> = {
  "sampling/createMessage": "sampling",
  "elicitation/create": "elicitation",
  "roots/list": "roots",
};

const LOG_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"];

export type CacheScope = "public" | "private";

export interface ReplyOptions {
  /** The client's id for the request. */
  id: JsonRpcId;
  method: string;
  meta: RequestMeta;
  /** The scope of a cacheable result that says none itself (what the gateway knows of who may share it). */
  cacheScope: CacheScope;
  /**
   * An upstream asked the client something during the call (by its gateway id). The per-request
   * era has no way to deliver it here, so the upstream is answered at once: `declared` says
   * whether the client has the capability the request needs.
   */
  refuseUpstreamRequest(gatewayId: JsonRpcId, declared: boolean): void;
}

/** The hints a cacheable result gets when its upstream gave none: fresh for no time, so nothing stale is served. */
function withCacheHints(result: Record<string, unknown>, scope: CacheScope): void {
  if (typeof result.ttlMs !== "number" || result.ttlMs < 0) result.ttlMs = 0;
  if (result.cacheScope !== "public" && result.cacheScope !== "private") result.cacheScope = scope;
}

export class PerRequestReply implements RequestChannel {
  /** Capabilities an upstream needed during the call that the request did not declare. */
  private readonly missing: Record<string, object> = {};
  private readonly minLogLevel: number;

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
      const capability = CAPABILITY_OF[message.method];
      const declared = capability !== undefined && this.options.meta.clientCapabilities[capability] !== undefined;
      if (capability !== undefined && !declared) this.missing[capability] = {};
      this.options.refuseUpstreamRequest(message.id, declared);
      return true;
    }
    if (isNotification(message)) {
      // Without a logLevel the request asked for no log messages (2026-07-28, logging).
      if (message.method === Notification.Message && !(LOG_LEVELS.indexOf(String(message.params?.level)) >= this.minLogLevel)) return true;
      // Withdrawals of upstream requests the client never saw.
      if (message.method === Notification.Cancelled) return true;
    }
    return this.client.send(message);
  }

  respond(response: JsonRpcResponse): void {
    if (Object.keys(this.missing).length > 0) {
      this.client.respond(
        errorResponse(this.options.id, PerRequestErrorCode.MissingRequiredClientCapability, `the request needs client capabilities it did not declare: ${Object.keys(this.missing).join(", ")}`, {
          requiredCapabilities: this.missing,
        }),
      );
      return;
    }
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

  /** List pages come serialized once per catalog version: the fields go in front rather than through a parse. */
  respondRaw(_id: JsonRpcId, resultJson: string): void {
    const fields = `"resultType":"complete"${CACHEABLE.has(this.options.method) ? `,"ttlMs":0,"cacheScope":"${this.options.cacheScope}"` : ""}`;
    const rest = resultJson.slice(1).trimStart();
    this.client.respondRaw(this.options.id, `{${fields}${rest.startsWith("}") ? "" : ","}${rest}`);
  }

  abandon(): void {
    this.client.abandon();
  }
}
