// Raw HTTP calls to the gateway's /mcp, for tests that check the transport byte by byte.

export const JSON_AND_SSE = "application/json, text/event-stream";

/** The gateway's session ids: random.expiry.signature, visible ASCII only as the spec asks. */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{22}\.[a-z0-9]+\.[A-Za-z0-9_-]{22}$/;

export interface McpHttpResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON body, or the JSON-RPC messages of an SSE body. */
  messages: unknown[];
  text: string;
}

export async function postMcp(url: string, body: unknown, headers: Record<string, string> = {}): Promise<McpHttpResponse> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: JSON_AND_SSE, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return readMcp(res);
}

export async function readMcp(res: Response): Promise<McpHttpResponse> {
  const text = await res.text();
  const type = res.headers.get("content-type") ?? "";
  let messages: unknown[] = [];
  if (type.startsWith("text/event-stream")) {
    messages = text
      .split("\n")
      .filter((line) => line.startsWith("data: "))
      .map((line) => JSON.parse(line.slice(6)));
  } else if (text && type.includes("json")) {
    const parsed: unknown = JSON.parse(text);
    messages = Array.isArray(parsed) ? parsed : [parsed];
  }
  return { status: res.status, headers: res.headers, messages, text };
}

export function initializeRequest(id: string | number = 1, protocolVersion = "2025-06-18") {
  return { jsonrpc: "2.0", id, method: "initialize", params: { protocolVersion, capabilities: {}, clientInfo: { name: "raw-test", version: "1.0.0" } } };
}

/** Initializes a session with raw HTTP; returns its id and the negotiated version. */
export async function openRawSession(mcpUrl: string, protocolVersion = "2025-06-18", headers: Record<string, string> = {}): Promise<{ sessionId: string; protocolVersion: string }> {
  const res = await postMcp(mcpUrl, initializeRequest(1, protocolVersion), headers);
  const sessionId = res.headers.get("mcp-session-id");
  if (res.status !== 200 || !sessionId) throw new Error(`initialize failed: ${res.status} ${res.text}`);
  const negotiated = (res.messages[0] as { result: { protocolVersion: string } }).result.protocolVersion;
  await postMcp(mcpUrl, { jsonrpc: "2.0", method: "notifications/initialized" }, { "mcp-session-id": sessionId });
  return { sessionId, protocolVersion: negotiated };
}
