// Why the Streamable HTTP transport answered a request with an HTTP error of its own instead of
// handing it on. A fixed set, so that whoever counts refusals by reason keeps a bounded label set.

export const REFUSAL_REASONS = [
  /** 403: Host or Origin header not allowed (DNS rebinding protection). */
  "host_not_allowed",
  /** 405: not GET, POST or DELETE. */
  "method_not_allowed",
  /** 406: Accept allows neither JSON nor SSE (POST), or not SSE (GET). */
  "not_acceptable",
  /** 415: POST body not declared application/json. */
  "unsupported_media_type",
  /** 413: body larger than --max-body-bytes. */
  "body_too_large",
  /** 400: body is not JSON. */
  "invalid_json",
  /** 400: JSON but not acceptable JSON-RPC: invalid message, empty batch, nested too deep, batch not allowed. */
  "invalid_jsonrpc",
  /** 400: no Mcp-Session-Id header on a request that needs one. */
  "missing_session_id",
  /** 400: MCP-Protocol-Version header names a version the gateway does not speak. */
  "unsupported_protocol_version",
  /** 404: session id unknown, forged, expired or ended. */
  "unknown_session",
  /** 503: the shared session store (Redis) could not be reached. */
  "session_store_unavailable",
  /** 429: the client (token subject or address) is over --client-rate-limit. */
  "client_rate_limit",
  /** 429: the session is over --session-rate-limit. */
  "session_rate_limit",
  /** 429: the session already has --max-streams-per-session streams or requests open. */
  "session_streams_limit",
  /** 500: an unexpected error in the gateway. */
  "internal_error",
] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** Told of every refusal the transport writes to a client; metrics count them. */
export interface RefusalObserver {
  refused(reason: RefusalReason): void;
}
