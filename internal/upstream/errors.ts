// Why an upstream call failed, in words that end up in /status, registration conditions and
// JSON-RPC errors ("connection refused", "unsupported protocol version ...").

export class UpstreamError extends Error {}

/** The upstream forgot our session (it restarted): open a new one and retry once. */
export class SessionExpiredError extends UpstreamError {
  constructor() {
    super("upstream session expired (HTTP 404)");
  }
}

export class UpstreamHttpError extends UpstreamError {
  constructor(
    readonly status: number,
    body: string,
  ) {
    super(`HTTP ${status}${body ? `: ${body.slice(0, 200)}` : ""}`);
  }
}

/** The upstream refused the request itself (HTTP 4xx with a JSON-RPC error): its verdict goes to the client as is. */
export class UpstreamRejectedError extends UpstreamError {
  constructor(
    readonly status: number,
    readonly error: { code: number; message: string; data?: unknown },
  ) {
    super(`HTTP ${status}: ${error.message}`);
  }
}

/** The upstream answered, but not with MCP we can use. */
export class UpstreamProtocolError extends UpstreamError {}

/**
 * The upstream was reached but was too slow: the total timeout of a request (message "timed out
 * after N ms") or the first-byte timeout. The client gets -32011 and the upstream a cancellation.
 */
export class UpstreamTimeoutError extends UpstreamError {
  constructor(ms: number, message = `timed out after ${ms} ms`) {
    super(message);
  }
}

export class UpstreamFirstByteTimeoutError extends UpstreamTimeoutError {
  constructor(ms: number) {
    super(ms, `no response headers within ${ms} ms (first-byte timeout)`);
  }
}

/** No connection in time: the upstream is as unreachable as when it refuses one (-32010), and nothing reached it to cancel. */
export class UpstreamConnectTimeoutError extends UpstreamError {
  constructor(ms: number) {
    super(`no connection within ${ms} ms (connect timeout)`);
  }
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host not found",
  EHOSTUNREACH: "host unreachable",
  ETIMEDOUT: "connection timed out",
  UND_ERR_SOCKET: "connection closed",
  UND_ERR_CLOSED: "connection closed",
  UND_ERR_BODY_TIMEOUT: "response stalled",
  UND_ERR_RES_EXCEEDED_MAX_SIZE: "response too large",
};

/** A short, stable description of any error from talking to an upstream. */
export function describeUpstreamError(err: unknown): string {
  if (err instanceof UpstreamError) return err.message;
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (current && typeof current === "object" && !seen.has(current)) {
    seen.add(current);
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_CODES[code]) return NETWORK_CODES[code];
    const errors = (current as { errors?: unknown[] }).errors;
    if (Array.isArray(errors) && errors.length > 0) current = errors[0];
    else current = (current as { cause?: unknown }).cause;
  }
  return err instanceof Error ? err.message : String(err);
}
