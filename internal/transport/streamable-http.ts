// The MCP Streamable HTTP transport, server side (spec 2025-03-26 .. 2025-11-25): POST carries
// client messages, GET opens the server-to-client stream, DELETE ends a session. Everything
// about HTTP lives here; what the messages mean is the protocol handler's business.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import {
  classify,
  errorResponse,
  ErrorCode,
  nestsDeeperThan,
  type JsonRpcId,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
} from "../mcp/jsonrpc.js";
import { allowsBatches, isSupportedProtocolVersion, Method } from "../mcp/protocol.js";
import type { LimitRefusal, RequestLimits } from "../limits/request-limits.js";
import { EventStream } from "./event-stream.js";
import { acceptsEventStream, acceptsJson, HostGuard, isJsonContentType } from "./http-checks.js";
import { PostResponder, type RequestChannel } from "./post-responder.js";
import type { RefusalObserver, RefusalReason } from "./refusals.js";

export interface TransportSession {
  readonly id: string;
  readonly protocolVersion: string;
}

/** The protocol side: what to do with messages once the transport has accepted them. */
export interface McpProtocolHandler<S extends TransportSession> {
  /** Answers initialize; a session is returned when one was created. */
  initialize(request: JsonRpcRequest, headers: IncomingHttpHeaders): Promise<{ session?: S; response: JsonRpcResponse }>;
  /** Undefined for ids that are unknown, forged or expired; rejects when the session store cannot be reached. */
  findSession(id: string): S | undefined | Promise<S | undefined>;
  onRequest(session: S, request: JsonRpcRequest, channel: RequestChannel, headers: IncomingHttpHeaders): void;
  onNotification(session: S, notification: JsonRpcNotification): void;
  onResponse(session: S, response: JsonRpcResponse): void;
  openStream(session: S, stream: EventStream): void;
  terminate(session: S): Promise<void>;
}

export interface StreamableHttpOptions {
  maxBodyBytes: number;
  hostGuard: HostGuard;
  /** Interval of SSE comment lines on idle GET streams; 0 disables them. */
  keepAliveMs: number;
  /** Client and session request rates, streams per session. */
  limits: RequestLimits;
  /** Told of every refusal written to a client, with its reason. */
  refusals?: RefusalObserver;
}

const SESSION_HEADER = "mcp-session-id";
/** No MCP message needs more; deeper ones would overflow the stack when forwarded. */
const MAX_JSON_DEPTH = 128;
const VERSION_HEADER = "mcp-protocol-version";

class HttpRefusal extends Error {
  constructor(
    readonly reason: RefusalReason,
    readonly status: number,
    readonly code: number,
    message: string,
    readonly id: string | number | null = null,
    /** The connection cannot be reused (part of the request body was left unread). */
    readonly closeConnection = false,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The session store (Redis) failed: the client may retry, on this replica or another. */
function storeUnavailable(err: unknown, id: string | number | null): HttpRefusal {
  return new HttpRefusal("session_store_unavailable", 503, ErrorCode.InternalError, `Service Unavailable: session store: ${(err as Error).message}`, id, false, { "retry-after": "1" });
}

/** Writes the refusal; false when an answer had already started and nothing could be written. */
function refuse(res: ServerResponse, refusal: HttpRefusal): boolean {
  if (res.headersSent) return false;
  const body = JSON.stringify(errorResponse(refusal.id, refusal.code, refusal.message));
  const headers: Record<string, string | number> = { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...refusal.headers };
  if (refusal.closeConnection) headers.connection = "close";
  res.writeHead(refusal.status, headers);
  res.end(body);
  return true;
}

const LIMIT_REASONS = { client: "client_rate_limit", session: "session_rate_limit", streams: "session_streams_limit" } as const satisfies Record<LimitRefusal["limit"], RefusalReason>;

/** Over a limit: HTTP 429, with the id of the request it refuses when there is one. */
function enforce(refusal: LimitRefusal | undefined, id: JsonRpcId | null = null): void {
  if (refusal) throw new HttpRefusal(LIMIT_REASONS[refusal.limit], 429, ErrorCode.TransportError, refusal.message, id, false, { "retry-after": String(refusal.retryAfterSeconds) });
}

/** 413, closing the connection: the rest of the body is left unread. */
function bodyTooLarge(maxBytes: number): HttpRefusal {
  return new HttpRefusal("body_too_large", 413, ErrorCode.InvalidRequest, `request body larger than ${maxBytes} bytes`, null, true);
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
  /** The request's session, within its request rate; requestId goes into a 429's body. */
  async function sessionOf(req: IncomingMessage, requestId: JsonRpcId | null = null): Promise<S> {
    const id = req.headers[SESSION_HEADER];
    if (typeof id !== "string" || id === "") throw new HttpRefusal("missing_session_id", 400, ErrorCode.TransportError, "Bad Request: Mcp-Session-Id header is required");
    let session: S | undefined;
    try {
      session = await handler.findSession(id);
    } catch (err) {
      throw storeUnavailable(err, null);
    }
    if (!session) throw new HttpRefusal("unknown_session", 404, ErrorCode.SessionNotFound, "Session not found");
    const version = req.headers[VERSION_HEADER];
    if (version !== undefined && !isSupportedProtocolVersion(version)) {
      throw new HttpRefusal("unsupported_protocol_version", 400, ErrorCode.TransportError, `Bad Request: unsupported MCP-Protocol-Version ${JSON.stringify(version)}`);
    }
    enforce(options.limits.admitSession(session.id), requestId);
    return session;
  }

  async function post(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!isJsonContentType(req.headers["content-type"])) throw new HttpRefusal("unsupported_media_type", 415, ErrorCode.TransportError, "Unsupported Media Type: Content-Type must be application/json");
    const json = acceptsJson(req.headers.accept);
    const sse = acceptsEventStream(req.headers.accept);
    if (!json && !sse) throw new HttpRefusal("not_acceptable", 406, ErrorCode.TransportError, "Not Acceptable: Accept must allow application/json and text/event-stream");
    const text = await readBody(req, options.maxBodyBytes);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new HttpRefusal("invalid_json", 400, ErrorCode.ParseError, "Parse error: body is not valid JSON");
    }
    const batch = Array.isArray(parsed);
    const values: unknown[] = batch ? (parsed as unknown[]) : [parsed];
    if (values.length === 0) throw new HttpRefusal("invalid_jsonrpc", 400, ErrorCode.InvalidRequest, "Invalid Request: empty batch");
    const messages = values.map(classify);
    for (const message of messages) {
      if (message.kind === "invalid") throw new HttpRefusal("invalid_jsonrpc", 400, ErrorCode.InvalidRequest, `Invalid Request: ${message.reason}`, message.id);
    }
    const first = messages.find((m) => m.kind === "request");
    const firstId = first?.kind === "request" ? first.message.id : null;
    if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
      throw new HttpRefusal("invalid_jsonrpc", 400, ErrorCode.InvalidRequest, `Invalid Request: JSON nested deeper than ${MAX_JSON_DEPTH} levels`, firstId);
    }
    enforce(options.limits.admitClient(req), firstId);

    const initialize = messages.find((m) => m.kind === "request" && m.message.method === Method.Initialize);
    if (initialize?.kind === "request") {
      if (batch) throw new HttpRefusal("invalid_jsonrpc", 400, ErrorCode.InvalidRequest, "Invalid Request: initialize must not be part of a batch", initialize.message.id);
      let answer: Awaited<ReturnType<typeof handler.initialize>>;
      try {
        answer = await handler.initialize(initialize.message, req.headers);
      } catch (err) {
        throw storeUnavailable(err, initialize.message.id);
      }
      const { session, response } = answer;
      const headers: Record<string, string> = session ? { [SESSION_HEADER]: session.id } : {};
      if (json) {
        const body = JSON.stringify(response);
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers });
        res.end(body);
      } else {
        const stream = new EventStream(res, 0, headers);
        stream.send(response);
        stream.close();
      }
      return;
    }

    const session = await sessionOf(req, firstId);
    if (batch && !allowsBatches(session.protocolVersion)) {
      throw new HttpRefusal("invalid_jsonrpc", 400, ErrorCode.InvalidRequest, `Invalid Request: JSON-RPC batches are not part of protocol version ${session.protocolVersion}`);
    }
    // Checked before anything is handed on, so that a refused POST has no effect at all.
    if (firstId !== null) enforce(options.limits.openStream(session.id, res), firstId);
    const requests: JsonRpcRequest[] = [];
    for (const message of messages) {
      if (message.kind === "request") requests.push(message.message);
      else if (message.kind === "notification") handler.onNotification(session, message.message);
      else if (message.kind === "response") handler.onResponse(session, message.message);
    }
    if (requests.length === 0) {
      res.writeHead(202).end();
      return;
    }
    const responder = new PostResponder(res, sse, json, requests.length, batch);
    for (const request of requests) handler.onRequest(session, request, responder.channel(), req.headers);
  }

  async function get(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!acceptsEventStream(req.headers.accept)) throw new HttpRefusal("not_acceptable", 406, ErrorCode.TransportError, "Not Acceptable: Accept must allow text/event-stream");
    enforce(options.limits.admitClient(req));
    const session = await sessionOf(req);
    enforce(options.limits.openStream(session.id, res));
    handler.openStream(session, new EventStream(res, options.keepAliveMs));
  }

  async function remove(req: IncomingMessage, res: ServerResponse): Promise<void> {
    enforce(options.limits.admitClient(req));
    const session = await sessionOf(req);
    await handler.terminate(session);
    res.writeHead(200).end();
  }

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const blocked = options.hostGuard.check(req.headers);
      if (blocked) throw new HttpRefusal("host_not_allowed", 403, ErrorCode.TransportError, `Forbidden: ${blocked}`);
      if (req.method === "POST") await post(req, res);
      else if (req.method === "GET") await get(req, res);
      else if (req.method === "DELETE") await remove(req, res);
      else throw new HttpRefusal("method_not_allowed", 405, ErrorCode.TransportError, "Method Not Allowed", null, false, { allow: "GET, POST, DELETE" });
    } catch (err) {
      const refusal = err instanceof HttpRefusal ? err : new HttpRefusal("internal_error", 500, ErrorCode.InternalError, `Internal error: ${(err as Error).message}`);
      // The one place refusals are counted: only those the client was actually sent.
      if (refuse(res, refusal)) options.refusals?.refused(refusal.reason);
    }
  };
}
