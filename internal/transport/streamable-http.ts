// The MCP Streamable HTTP transport, server side (spec 2025-03-26 .. 2025-11-25): POST carries
// client messages, GET opens the server-to-client stream, DELETE ends a session. Everything
// about HTTP lives here; what the messages mean is the protocol handler's business.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import {
  classify,
  errorResponse,
  nestsDeeperThan,
  type JsonRpcId,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from "../mcp/jsonrpc.js";
import { allowsBatches, isSupportedProtocolVersion, Method } from "../mcp/protocol.js";
import { clientKey, type LimitRefusal, type RequestLimits } from "../limits/request-limits.js";
import { SessionQuotaError } from "../limits/session-quota.js";
import { EventStream } from "./event-stream.js";
import { writeJson } from "./json-response.js";
import { acceptsEventStream, acceptsJson, HostGuard, isJsonContentType } from "./http-checks.js";
import { isPerRequestMessage, servePerRequest, type PerRequestHandler } from "./per-request-http.js";
import { PostResponder, type RequestChannel } from "./post-responder.js";
import { REFUSALS, type RefusalObserver, type RefusalReason, type RefusalSpec } from "./refusals.js";

export interface TransportSession {
  readonly id: string;
  readonly protocolVersion: string;
}

/** The protocol side: what to do with messages once the transport has accepted them. */
export interface McpProtocolHandler<S extends TransportSession> {
  /** Answers initialize; a session is returned when one was created. `client`: the key limits count the caller by. */
  initialize(request: JsonRpcRequest, headers: IncomingHttpHeaders, client: string): Promise<{ session?: S; response: JsonRpcResponse }>;
  /**
   * Undefined for ids that are unknown, forged or expired, and for sessions of another identity
   * than the request's (indistinguishable from unknown); rejects when the session store cannot be reached.
   */
  findSession(id: string, headers: IncomingHttpHeaders): S | undefined | Promise<S | undefined>;
  onRequest(session: S, request: JsonRpcRequest, channel: RequestChannel, headers: IncomingHttpHeaders): void;
  onNotification(session: S, notification: JsonRpcNotification, headers: IncomingHttpHeaders): void;
  onResponse(session: S, response: JsonRpcResponse, headers: IncomingHttpHeaders): void;
  openStream(session: S, stream: EventStream): void;
  terminate(session: S, headers: IncomingHttpHeaders): Promise<void>;
}

export interface StreamableHttpOptions {
  maxBodyBytes: number;
  /** Most messages one batch may carry. */
  maxBatchSize: number;
  hostGuard: HostGuard;
  /** Interval of SSE comment lines on idle GET streams; 0 disables them. */
  keepAliveMs: number;
  /** Client and session request rates, streams per session. */
  limits: RequestLimits;
  /** Told of every refusal written to a client, with its reason. */
  refusals?: RefusalObserver;
  /** Serves the per-request era (2026-07-28) on the same endpoint; absent, only the session era is served. */
  perRequest?: PerRequestHandler;
}

const SESSION_HEADER = "mcp-session-id";
/** No MCP message needs more; deeper ones would overflow the stack when forwarded. */
const MAX_JSON_DEPTH = 128;
const VERSION_HEADER = "mcp-protocol-version";

interface RefusalOptions {
  /** The id of the request refused, when there is one. */
  id?: JsonRpcId | null;
  headers?: Record<string, string>;
}

class HttpRefusal extends Error {
  readonly id: JsonRpcId | null;
  readonly headers: Record<string, string>;

  constructor(
    readonly reason: RefusalReason,
    message: string,
    options: RefusalOptions = {},
  ) {
    super(message);
    this.id = options.id ?? null;
    this.headers = options.headers ?? {};
  }
}

/** The session store (Redis) failed: the client may retry, on this replica or another. */
function storeUnavailable(err: unknown, id: JsonRpcId | null): HttpRefusal {
  return new HttpRefusal("session_store_unavailable", `Service Unavailable: session store: ${(err as Error).message}`, { id, headers: { "retry-after": "1" } });
}

/** Writes the refusal; false when an answer had already started and nothing could be written. */
function refuse(res: ServerResponse, refusal: HttpRefusal): boolean {
  if (res.headersSent) return false;
  const spec: RefusalSpec = REFUSALS[refusal.reason];
  const body = JSON.stringify(errorResponse(refusal.id, spec.code, refusal.message));
  writeJson(res, spec.status, body, spec.closeConnection ? { ...refusal.headers, connection: "close" } : refusal.headers);
  return true;
}

const LIMIT_REASONS = {
  client: "client_rate_limit",
  initialize: "initialize_rate_limit",
  session: "session_rate_limit",
  streams: "session_streams_limit",
} as const satisfies Record<LimitRefusal["limit"], RefusalReason>;

/** Over a limit: HTTP 429, with the id of the request it refuses when there is one. */
function enforce(refusal: LimitRefusal | undefined, id: JsonRpcId | null = null): void {
  if (refusal) throw new HttpRefusal(LIMIT_REASONS[refusal.limit], refusal.message, { id, headers: { "retry-after": String(refusal.retryAfterSeconds) } });
}

/** 413, closing the connection: the rest of the body is left unread. */
function bodyTooLarge(maxBytes: number): HttpRefusal {
  return new HttpRefusal("body_too_large", `request body larger than ${maxBytes} bytes`);
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > maxBytes) return Promise.reject(bodyTooLarge(maxBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        // Answer 413 and close, discarding the rest: destroying the socket would leave the client a reset, not an answer.
        req.off("data", onData);
        req.resume();
        reject(bodyTooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.on("end", () => resolve(chunks.length === 1 ? (chunks[0] as Buffer).toString("utf8") : Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

export function streamableHttpHandler<S extends TransportSession>(handler: McpProtocolHandler<S>, options: StreamableHttpOptions) {
  /** The request's session, within its request rate (`count` requests); requestId goes into a 429's body. */
  async function sessionOf(req: IncomingMessage, requestId: JsonRpcId | null = null, count = 1): Promise<S> {
    const id = req.headers[SESSION_HEADER];
    if (typeof id !== "string" || id === "") throw new HttpRefusal("missing_session_id", "Bad Request: Mcp-Session-Id header is required");
    let session: S | undefined;
    try {
      session = await handler.findSession(id, req.headers);
    } catch (err) {
      throw storeUnavailable(err, null);
    }
    if (!session) throw new HttpRefusal("unknown_session", "Session not found");
    const version = req.headers[VERSION_HEADER];
    if (version !== undefined && !isSupportedProtocolVersion(version)) {
      throw new HttpRefusal("unsupported_protocol_version", `Bad Request: unsupported MCP-Protocol-Version ${JSON.stringify(version)}`);
    }
    enforce(options.limits.admitSession(session.id, count), requestId);
    return session;
  }

  async function post(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!isJsonContentType(req.headers["content-type"])) throw new HttpRefusal("unsupported_media_type", "Unsupported Media Type: Content-Type must be application/json");
    const json = acceptsJson(req.headers.accept);
    const sse = acceptsEventStream(req.headers.accept);
    if (!json && !sse) throw new HttpRefusal("not_acceptable", "Not Acceptable: Accept must allow application/json and text/event-stream");
    const text = await readBody(req, options.maxBodyBytes);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new HttpRefusal("invalid_json", "Parse error: body is not valid JSON");
    }
    const batch = Array.isArray(parsed);
    const values: unknown[] = batch ? (parsed as unknown[]) : [parsed];
    if (values.length === 0) throw new HttpRefusal("invalid_jsonrpc", "Invalid Request: empty batch");
    if (values.length > options.maxBatchSize) throw new HttpRefusal("batch_too_large", `Invalid Request: a batch may carry at most ${options.maxBatchSize} messages`);
    const messages = values.map(classify);
    for (const message of messages) {
      if (message.kind === "invalid") throw new HttpRefusal("invalid_jsonrpc", `Invalid Request: ${message.reason}`, { id: message.id });
    }
    const first = messages.find((m) => m.kind === "request");
    const firstId = first?.kind === "request" ? first.message.id : null;
    if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
      throw new HttpRefusal("invalid_jsonrpc", `Invalid Request: JSON nested deeper than ${MAX_JSON_DEPTH} levels`, { id: firstId });
    }
    // A batch is charged as the messages it carries, sent one by one, would be.
    enforce(options.limits.admitClient(req, messages.length), firstId);
    const only = messages[0];
    if (options.perRequest && !batch && only && only.kind !== "invalid" && isPerRequestMessage(req.headers, parsed)) {
      servePerRequest(options.perRequest, only, req.headers, res, sse, { keepAliveMs: options.keepAliveMs, refusals: options.refusals });
      return;
    }
    const requestCount = messages.filter((m) => m.kind === "request").length;

    const initialize = messages.find((m) => m.kind === "request" && m.message.method === Method.Initialize);
    if (initialize?.kind === "request") {
      if (batch) throw new HttpRefusal("invalid_jsonrpc", "Invalid Request: initialize must not be part of a batch", { id: initialize.message.id });
      enforce(options.limits.admitInitialize(req), initialize.message.id);
      let answer: Awaited<ReturnType<typeof handler.initialize>>;
      try {
        answer = await handler.initialize(initialize.message, req.headers, clientKey(req));
      } catch (err) {
        if (err instanceof SessionQuotaError) throw new HttpRefusal("client_sessions_limit", err.message, { id: initialize.message.id, headers: { "retry-after": "60" } });
        throw storeUnavailable(err, initialize.message.id);
      }
      const { session, response } = answer;
      const headers: Record<string, string> = session ? { [SESSION_HEADER]: session.id } : {};
      if (json) {
        const body = JSON.stringify(response);
        writeJson(res, 200, body, headers);
      } else {
        const stream = new EventStream(res, 0, headers);
        stream.send(response);
        stream.close();
      }
      return;
    }

    const session = await sessionOf(req, firstId, messages.length);
    if (batch && !allowsBatches(session.protocolVersion)) {
      throw new HttpRefusal("invalid_jsonrpc", `Invalid Request: JSON-RPC batches are not part of protocol version ${session.protocolVersion}`);
    }
    // Checked before anything is handed on, so that a refused POST has no effect at all.
    if (requestCount > 0) enforce(options.limits.openStream(session.id, res, requestCount), firstId);
    const requests: JsonRpcRequest[] = [];
    for (const message of messages) {
      if (message.kind === "request") requests.push(message.message);
      else if (message.kind === "notification") handler.onNotification(session, message.message, req.headers);
      else if (message.kind === "response") handler.onResponse(session, message.message, req.headers);
    }
    if (requests.length === 0) {
      res.writeHead(202).end();
      return;
    }
    const responder = new PostResponder(res, sse, json, requests.length, batch);
    for (const request of requests) handler.onRequest(session, request, responder.channel(), req.headers);
  }

  async function get(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!acceptsEventStream(req.headers.accept)) throw new HttpRefusal("not_acceptable", "Not Acceptable: Accept must allow text/event-stream");
    enforce(options.limits.admitClient(req));
    const session = await sessionOf(req);
    enforce(options.limits.openStream(session.id, res));
    handler.openStream(session, new EventStream(res, options.keepAliveMs));
  }

  async function remove(req: IncomingMessage, res: ServerResponse): Promise<void> {
    enforce(options.limits.admitClient(req));
    const session = await sessionOf(req);
    await handler.terminate(session, req.headers);
    res.writeHead(200).end();
  }

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const blocked = options.hostGuard.check(req.headers);
      if (blocked) throw new HttpRefusal("host_not_allowed", `Forbidden: ${blocked}`);
      if (req.method === "POST") await post(req, res);
      else if (req.method === "GET") await get(req, res);
      else if (req.method === "DELETE") await remove(req, res);
      else throw new HttpRefusal("method_not_allowed", "Method Not Allowed", { headers: { allow: "GET, POST, DELETE" } });
    } catch (err) {
      const refusal = err instanceof HttpRefusal ? err : new HttpRefusal("internal_error", `Internal error: ${(err as Error).message}`);
      // The one place refusals are counted: only those the client was actually sent.
      if (refuse(res, refusal)) options.refusals?.refused(refusal.reason);
    }
  };
}
