// The HTTP side of the per-request era (MCP 2026-07-28) on the same /mcp endpoint as the session
// era: which era a POST belongs to, the checks the spec asks of every request before anything is
// done (protocol version header and `_meta`, Mcp-Method/Mcp-Name equal to the body), and the one
// answer per POST (JSON, or SSE once something must go before the response), with the HTTP status
// the revision gives each error. What the methods mean is the protocol handler's business.
import type { IncomingHttpHeaders, ServerResponse } from "node:http";
import { ClientCapabilitiesSchema, ImplementationSchema, LoggingLevelSchema } from "@modelcontextprotocol/core";
import { z } from "zod";
import { errorResponse, ErrorCode, type Classified, type JsonRpcId, type JsonRpcMessage, type JsonRpcRequest, type JsonRpcResponse } from "../mcp/jsonrpc.js";
import { isPerRequestProtocolVersion, isSupportedProtocolVersion, MetaKey, Method, MIRRORED_PARAM, PER_REQUEST_PROTOCOL_VERSIONS, PerRequestErrorCode } from "../mcp/protocol.js";
import { EventStream } from "./event-stream.js";
import { writeJson } from "./json-response.js";
import type { RequestChannel } from "./post-responder.js";
import { REFUSALS, type RefusalObserver, type RefusalReason } from "./refusals.js";

const SESSION_HEADER = "mcp-session-id";
const VERSION_HEADER = "mcp-protocol-version";
const METHOD_HEADER = "mcp-method";
const NAME_HEADER = "mcp-name";

/** What every per-request-era request declares in `_meta` (zod from the SDK's 2026 schemas). */
const RequestMetaSchema = z.looseObject({
  [MetaKey.ProtocolVersion]: z.string(),
  [MetaKey.ClientCapabilities]: ClientCapabilitiesSchema,
  [MetaKey.ClientInfo]: ImplementationSchema.optional(),
  [MetaKey.LogLevel]: LoggingLevelSchema.optional(),
});

export interface RequestMeta {
  protocolVersion: string;
  clientCapabilities: Record<string, unknown>;
  clientInfo?: { name: string; version: string };
  logLevel?: z.infer<typeof LoggingLevelSchema>;
}

/** How the protocol side answers one per-request-era request. */
export interface PerRequestChannel extends RequestChannel {
  /**
   * Turns the answer into a long-lived SSE stream (subscriptions/listen): messages sent on it go
   * out as they come, with keep-alive comments; `signal` aborts when the client closes it.
   */
  hold(): void;
}

/** The protocol side of the per-request era. */
export interface PerRequestHandler {
  onRequest(request: JsonRpcRequest, meta: RequestMeta, channel: PerRequestChannel, headers: IncomingHttpHeaders): void;
}

function metaOf(message: unknown): unknown {
  const params = (message as { params?: unknown } | null)?.params;
  return typeof params === "object" && params !== null ? (params as { _meta?: unknown })._meta : undefined;
}

/**
 * Whether a single message POSTed to /mcp belongs to the per-request era: it carries no session
 * id, and either its `_meta` names a protocol version or it brings per-request metadata or a
 * version header that is not a session-era one. Everything else (initialize above all) stays in
 * the session era, whose path is unchanged.
 */
export function isPerRequestMessage(headers: IncomingHttpHeaders, message: unknown): boolean {
  if (headers[SESSION_HEADER] !== undefined) return false;
  const meta = metaOf(message);
  const declared = typeof meta === "object" && meta !== null && MetaKey.ProtocolVersion in meta;
  if (declared) return true;
  // A session-era initialize may carry `_meta` of its own; only the modern key makes it modern.
  if ((message as { method?: unknown }).method === Method.Initialize) return false;
  const version = headers[VERSION_HEADER];
  if (version === undefined) return meta !== undefined;
  return !isSupportedProtocolVersion(version);
}

/** A refusal of the per-request era: written as JSON with the status its reason names. */
export class PerRequestRefusal extends Error {
  constructor(
    readonly reason: RefusalReason,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

/** Mcp-Name may come base64-encoded (`=?base64?…?=`) when the name is not plain header-safe ASCII. */
export function decodeHeaderValue(value: string): string {
  const encoded = /^=\?base64\?([A-Za-z0-9+/=]*)\?=$/.exec(value);
  return encoded ? Buffer.from(encoded[1] ?? "", "base64").toString("utf8") : value;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}


/** The checks the spec asks of every per-request-era request, in the order the reference server makes them. */
export function checkRequest(headers: IncomingHttpHeaders, request: JsonRpcRequest): RequestMeta {
  const version = single(headers[VERSION_HEADER]);
  if (version === undefined) throw new PerRequestRefusal("header_mismatch", "Header mismatch: the MCP-Protocol-Version header is required");
  const parsed = RequestMetaSchema.safeParse(request.params?._meta);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PerRequestRefusal("invalid_request_meta", `Invalid params: _meta${issue?.path.length ? `.${issue.path.join(".")}` : ""}: ${issue?.message ?? "invalid"}`);
  }
  const meta = parsed.data;
  const requested = meta[MetaKey.ProtocolVersion];
  if (version !== requested) {
    throw new PerRequestRefusal("header_mismatch", `Header mismatch: MCP-Protocol-Version header ${JSON.stringify(version)} does not match _meta ${JSON.stringify(requested)}`);
  }
  if (!isPerRequestProtocolVersion(requested)) {
    throw new PerRequestRefusal("unsupported_per_request_version", "Unsupported protocol version", { supported: [...PER_REQUEST_PROTOCOL_VERSIONS], requested });
  }
  const method = single(headers[METHOD_HEADER]);
  if (method !== request.method) {
    throw new PerRequestRefusal("header_mismatch", method === undefined ? "Header mismatch: the Mcp-Method header is required" : `Header mismatch: Mcp-Method header ${JSON.stringify(method)} does not match the body's method`);
  }
  const key = MIRRORED_PARAM.get(request.method);
  if (key !== undefined) {
    const value = request.params?.[key];
    const header = single(headers[NAME_HEADER]);
    if (header === undefined) throw new PerRequestRefusal("header_mismatch", "Header mismatch: the Mcp-Name header is required");
    if (decodeHeaderValue(header) !== (typeof value === "string" ? value : "")) throw new PerRequestRefusal("header_mismatch", `Header mismatch: Mcp-Name header does not match the body's ${key}`);
  }
  return {
    protocolVersion: requested,
    clientCapabilities: meta[MetaKey.ClientCapabilities] as Record<string, unknown>,
    clientInfo: meta[MetaKey.ClientInfo],
    logLevel: meta[MetaKey.LogLevel],
  };
}

/** The HTTP status 2026-07-28 gives an error it answers: unknown methods are 404, the per-request-era errors 400. */
export function statusOf(code: number): number {
  if (code === ErrorCode.MethodNotFound) return 404;
  if (code === PerRequestErrorCode.HeaderMismatch || code === PerRequestErrorCode.MissingRequiredClientCapability || code === PerRequestErrorCode.UnsupportedProtocolVersion) return 400;
  return 200;
}

/** Writes a refusal; false when an answer had already started. */
export function writeRefusal(res: ServerResponse, refusal: PerRequestRefusal, id: JsonRpcId | null, refusals?: RefusalObserver): boolean {
  if (res.headersSent) return false;
  const spec = REFUSALS[refusal.reason];
  const body = JSON.stringify(errorResponse(id, spec.code, refusal.message, refusal.data));
  writeJson(res, spec.status, body);
  refusals?.refused(refusal.reason);
  return true;
}

/**
 * The answer to one per-request-era POST. Like the session era's PostResponder it stays plain
 * JSON until something must go before the response; unlike it, an error answered as JSON gets the
 * HTTP status its code has in this revision, and the answer can become a held stream.
 */
export class PerRequestResponder implements PerRequestChannel {
  private stream?: EventStream;
  private readonly abort = new AbortController();
  private answered = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly clientAcceptsSse: boolean,
    private readonly keepAliveMs: number,
  ) {
    res.on("close", () => {
      if (!this.answered || this.stream?.isOpen) this.abort.abort();
    });
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  hold(): void {
    this.stream ??= new EventStream(this.res, this.keepAliveMs, { "x-accel-buffering": "no" });
  }

  send(message: JsonRpcMessage): boolean {
    if (this.answered || this.abort.signal.aborted) return false;
    if (!this.stream) {
      if (!this.clientAcceptsSse) return false;
      this.stream = new EventStream(this.res, 0, { "x-accel-buffering": "no" });
    }
    this.stream.send(message);
    return true;
  }

  respond(response: JsonRpcResponse): void {
    this.finish(JSON.stringify(response), "error" in response ? statusOf(response.error.code) : 200);
  }

  respondRaw(id: JsonRpcId, resultJson: string): void {
    this.finish(`{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${resultJson}}`, 200);
  }

  abandon(): void {
    if (this.answered) return;
    this.answered = true;
    if (this.stream) this.stream.close();
    else if (!this.res.headersSent) new EventStream(this.res, 0).close();
  }

  private finish(json: string, status: number): void {
    if (this.answered) return;
    this.answered = true;
    if (this.stream) {
      this.stream.sendJson(json);
      this.stream.close();
      return;
    }
    if (this.res.destroyed) return;
    writeJson(this.res, status, json);
  }
}

export interface PerRequestServeOptions {
  /** Interval of SSE comment lines on held (listen) streams; 0 disables them. */
  keepAliveMs: number;
  refusals?: RefusalObserver;
}

/** Serves one POST the transport found to be of the per-request era (see isPerRequestMessage). */
export function servePerRequest(
  handler: PerRequestHandler,
  message: Exclude<Classified, { kind: "invalid" }>,
  headers: IncomingHttpHeaders,
  res: ServerResponse,
  clientAcceptsSse: boolean,
  options: PerRequestServeOptions,
): void {
  if (message.kind === "notification") {
    // 2026-07-28 defines no client notifications over HTTP (closing a stream cancels): accepted,
    // nothing to do, once the version header says this revision (as for a request).
    const version = single(headers[VERSION_HEADER]);
    if (!isPerRequestProtocolVersion(version)) {
      const refusal =
        version === undefined
          ? new PerRequestRefusal("header_mismatch", "Header mismatch: the MCP-Protocol-Version header is required")
          : new PerRequestRefusal("unsupported_per_request_version", "Unsupported protocol version", { supported: [...PER_REQUEST_PROTOCOL_VERSIONS], requested: version });
      writeRefusal(res, refusal, null, options.refusals);
      return;
    }
    res.writeHead(202).end();
    return;
  }
  if (message.kind === "response") {
    writeRefusal(res, new PerRequestRefusal("invalid_jsonrpc", "Invalid Request: a client sends no JSON-RPC responses in protocol version 2026-07-28"), message.message.id, options.refusals);
    return;
  }
  let meta: RequestMeta;
  try {
    meta = checkRequest(headers, message.message);
  } catch (err) {
    if (!(err instanceof PerRequestRefusal)) throw err;
    writeRefusal(res, err, message.message.id, options.refusals);
    return;
  }
  handler.onRequest(message.message, meta, new PerRequestResponder(res, clientAcceptsSse, options.keepAliveMs), headers);
}
