// Every way the transport answers a request with an HTTP error of its own instead of handing it
// on: one table of reason -> HTTP status, JSON-RPC code and whether the connection closes. The
// transport, the refusal metric (a bounded label set) and the docs table are all read from here.
import { ErrorCode } from "../mcp/jsonrpc.js";
import { PerRequestErrorCode } from "../mcp/protocol.js";

export interface RefusalSpec {
  status: number;
  code: number;
  /** The connection cannot be reused (part of the request body was left unread). */
  closeConnection?: boolean;
  /** For the docs: when the refusal happens. */
  when: string;
}

export const REFUSALS = {
  host_not_allowed: { status: 403, code: ErrorCode.TransportError, when: "`Host` or `Origin` not allowed (`--allowed-hosts`, `--allowed-origins`; DNS-rebinding protection)" },
  method_not_allowed: { status: 405, code: ErrorCode.TransportError, when: "not GET, POST or DELETE" },
  not_acceptable: { status: 406, code: ErrorCode.TransportError, when: "`Accept` allows neither JSON nor SSE (POST), or not SSE (GET)" },
  unsupported_media_type: { status: 415, code: ErrorCode.TransportError, when: "POST body not declared `application/json`" },
  body_too_large: { status: 413, code: ErrorCode.InvalidRequest, closeConnection: true, when: "body over `--max-body-bytes`, declared or found while reading" },
  invalid_json: { status: 400, code: ErrorCode.ParseError, when: "body is not JSON" },
  invalid_jsonrpc: {
    status: 400,
    code: ErrorCode.InvalidRequest,
    when: "JSON, but not acceptable JSON-RPC: an invalid message, an empty batch, nesting deeper than 128, `initialize` in a batch, a batch under a protocol version without batches",
  },
  batch_too_large: { status: 400, code: ErrorCode.InvalidRequest, when: "a batch of more than `--max-batch-size` messages" },
  missing_session_id: { status: 400, code: ErrorCode.TransportError, when: "no `Mcp-Session-Id` on a request that needs one" },
  unsupported_protocol_version: { status: 400, code: ErrorCode.TransportError, when: "`MCP-Protocol-Version` names a version the gateway does not speak" },
  unknown_session: { status: 404, code: ErrorCode.SessionNotFound, when: "session id forged, altered, expired or ended, or the session belongs to another identity" },
  session_store_unavailable: { status: 503, code: ErrorCode.InternalError, when: "Redis could not be reached (`--redis-url`)" },
  client_rate_limit: { status: 429, code: ErrorCode.TransportError, when: "over `--client-rate-limit` (a batch counts each request)" },
  initialize_rate_limit: { status: 429, code: ErrorCode.TransportError, when: "over `--client-initialize-rate-limit`" },
  client_sessions_limit: { status: 429, code: ErrorCode.TransportError, when: "the client already holds `--max-sessions-per-client` sessions on this replica" },
  session_rate_limit: { status: 429, code: ErrorCode.TransportError, when: "over `--session-rate-limit` (a batch counts each request)" },
  session_streams_limit: { status: 429, code: ErrorCode.TransportError, when: "over `--max-streams-per-session` (a batch takes one slot per request)" },
  internal_error: { status: 500, code: ErrorCode.InternalError, when: "an unexpected error in the gateway" },
  header_mismatch: {
    status: 400,
    code: PerRequestErrorCode.HeaderMismatch,
    when: "2026-07-28: `MCP-Protocol-Version`, `Mcp-Method` or `Mcp-Name` missing, or not what the body says",
  },
  invalid_request_meta: { status: 400, code: ErrorCode.InvalidParams, when: "2026-07-28: `_meta` missing, or without a valid `protocolVersion` or `clientCapabilities`" },
  unsupported_per_request_version: { status: 400, code: PerRequestErrorCode.UnsupportedProtocolVersion, when: "2026-07-28: `_meta` names a protocol version the gateway does not serve per request (the error lists those it does)" },
} as const satisfies Record<string, RefusalSpec>;

export type RefusalReason = keyof typeof REFUSALS;

export const REFUSAL_REASONS = Object.keys(REFUSALS) as RefusalReason[];

/** Told of every refusal the transport writes to a client; metrics count them. */
export interface RefusalObserver {
  refused(reason: RefusalReason): void;
}

/** The docs' table of refusals (docs/operations.md, between its refusal markers). */
export function refusalTable(): string {
  const rows = REFUSAL_REASONS.map((reason) => {
    const spec: RefusalSpec = REFUSALS[reason];
    return `| \`${reason}\` | ${spec.status} | \`${spec.code}\` | ${spec.when} |`;
  });
  return ["| `reason` | HTTP | JSON-RPC | when |", "|---|---|---|---|", ...rows].join("\n");
}
