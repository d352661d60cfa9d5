// JSON-RPC 2.0 message shapes and checks, kept hand-written because every byte of client
// and upstream traffic passes through them.

export type JsonRpcId = string | number;
export type Params = Record<string, unknown>;

export interface JsonRpcRequest {
  jsonrpc: "2.0";
  id: JsonRpcId;
  method: string;
  params?: Params;
}

export interface JsonRpcNotification {
  jsonrpc: "2.0";
  method: string;
  params?: Params;
}

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export interface JsonRpcResultResponse {
  jsonrpc: "2.0";
  id: JsonRpcId;
  result: Record<string, unknown>;
}

export interface JsonRpcErrorResponse {
  jsonrpc: "2.0";
  id: JsonRpcId | null;
  error: JsonRpcErrorObject;
}

export type JsonRpcResponse = JsonRpcResultResponse | JsonRpcErrorResponse;
export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

/** Standard JSON-RPC codes plus the MCP and gateway-specific ones. */
export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** Transport-level refusals (missing session header, bad protocol version header), as the MCP SDK uses it. */
  TransportError: -32000,
  /** The session id is unknown or ended (HTTP 404), as the MCP SDK uses it. */
  SessionNotFound: -32001,
  /** MCP: a resource URI that no server serves. */
  ResourceNotFound: -32002,
  /** The upstream did not answer in time. */
  UpstreamTimeout: -32011,
  /** The upstream could not be reached or answered with something that is not MCP. */
  UpstreamUnavailable: -32010,
} as const;

export class JsonRpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
  toObject(): JsonRpcErrorObject {
    return this.data === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, data: this.data };
  }
}

export type Classified =
  | { kind: "request"; message: JsonRpcRequest }
  | { kind: "notification"; message: JsonRpcNotification }
  | { kind: "response"; message: JsonRpcResponse }
  | { kind: "invalid"; reason: string; id: JsonRpcId | null };

function isId(value: unknown): value is JsonRpcId {
  return typeof value === "string" || (typeof value === "number" && Number.isFinite(value));
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Sorts one parsed value into the JSON-RPC message kinds, or says why it is none of them. */
export function classify(value: unknown): Classified {
  if (!isObject(value)) return { kind: "invalid", reason: "a JSON-RPC message must be an object", id: null };
  const id = isId(value.id) ? value.id : null;
  if (value.jsonrpc !== "2.0") return { kind: "invalid", reason: 'jsonrpc must be "2.0"', id };
  if (value.params !== undefined && !isObject(value.params)) return { kind: "invalid", reason: "params must be an object", id };
  if (typeof value.method === "string") {
    if (value.id === undefined) return { kind: "notification", message: value as unknown as JsonRpcNotification };
    if (!isId(value.id)) return { kind: "invalid", reason: "id must be a string or a number", id: null };
    return { kind: "request", message: value as unknown as JsonRpcRequest };
  }
  if (value.method !== undefined) return { kind: "invalid", reason: "method must be a string", id };
  // A response carries exactly one of result (an object) and error (an object with a numeric code).
  const result = "result" in value;
  const error = "error" in value;
  const wellFormed = result ? !error && isObject(value.result) : error && isObject(value.error) && typeof value.error.code === "number";
  if (wellFormed && (isId(value.id) || (error && value.id === null))) {
    return { kind: "response", message: value as unknown as JsonRpcResponse };
  }
  return { kind: "invalid", reason: "not a request, notification or response", id };
}

export function errorResponse(id: JsonRpcId | null, code: number, message: string, data?: unknown): JsonRpcErrorResponse {
  return { jsonrpc: "2.0", id, error: data === undefined ? { code, message } : { code, message, data } };
}

export function resultResponse(id: JsonRpcId, result: Record<string, unknown>): JsonRpcResultResponse {
  return { jsonrpc: "2.0", id, result };
}

export function isRequest(message: JsonRpcMessage): message is JsonRpcRequest {
  return "method" in message && "id" in message;
}

export function isNotification(message: JsonRpcMessage): message is JsonRpcNotification {
  return "method" in message && !("id" in message);
}

/**
 * True when JSON text nests arrays and objects deeper than maxDepth. A scan of the raw text, far
 * cheaper than walking the parsed value; deep nesting would otherwise overflow the stack later.
 */
export function nestsDeeperThan(text: string, maxDepth: number): boolean {
  if (text.length <= maxDepth) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > maxDepth) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}
