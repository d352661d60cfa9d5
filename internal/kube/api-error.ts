// Errors from the API server in words: client-node's ApiException carries the whole HTTP
// response (headers included) in its message, which is no line for a log.

/** The message of a Kubernetes Status body, if the text is one. */
export function statusMessage(body: unknown): string | undefined {
  try {
    const status = (typeof body === "string" ? JSON.parse(body) : body) as { message?: unknown };
    return typeof status?.message === "string" ? status.message : undefined;
  } catch {
    return undefined;
  }
}

/** The HTTP status code of an API error (client-node's `code`, our ApiError's `statusCode`). */
export function apiStatusCode(err: unknown): number | undefined {
  const { code, statusCode } = (err ?? {}) as { code?: unknown; statusCode?: unknown };
  if (typeof code === "number") return code;
  return typeof statusCode === "number" ? statusCode : undefined;
}

/** One line: "HTTP 409: Operation cannot be fulfilled ...", or the error's own message. */
export function describeApiError(err: unknown): string {
  const code = apiStatusCode(err);
  const message = statusMessage((err as { body?: unknown })?.body) ?? (err instanceof Error ? err.message.split("\n")[0] : String(err));
  return code === undefined ? (message ?? "unknown error") : `HTTP ${code}: ${message}`;
}
