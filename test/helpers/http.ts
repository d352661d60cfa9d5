// Raw HTTP calls to the gateway's /mcp, for tests that check the transport byte by byte.
import { eventually } from "./gateway-process.js";

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
  return { status: res.status, headers: res.headers, messages: mcpMessages(res.headers.get("content-type") ?? "", text), text };
}

/** The JSON-RPC messages of an answer body: the events of an SSE stream, or a JSON message or batch. */
export function mcpMessages(contentType: string, text: string): unknown[] {
  if (contentType.startsWith("text/event-stream")) return sseMessages(text);
  if (!text || !contentType.includes("json")) return [];
  const parsed: unknown = JSON.parse(text);
  return Array.isArray(parsed) ? parsed : [parsed];
}

/**
 * The JSON payloads of an SSE body: each event's data lines joined by newlines (one leading space
 * dropped). An event without data (a priming event, a comment) is not dispatched, as in EventSource.
 */
export function sseMessages(text: string): unknown[] {
  const messages: unknown[] = [];
  for (const event of text.split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((line) => line.startsWith("data:"))
      .map((line) => line.slice(5).replace(/^ /, ""))
      .join("\n");
    if (data) messages.push(JSON.parse(data));
  }
  return messages;
}

export function initializeRequest(id: string | number = 1, protocolVersion = "2025-06-18", capabilities: Record<string, unknown> = {}) {
  return { jsonrpc: "2.0", id, method: "initialize", params: { protocolVersion, capabilities, clientInfo: { name: "raw-test", version: "1.0.0" } } };
}

/** Initializes a session with raw HTTP (declaring `capabilities`); returns its id and the negotiated version. */
export async function openRawSession(
  mcpUrl: string,
  protocolVersion = "2025-06-18",
  headers: Record<string, string> = {},
  capabilities: Record<string, unknown> = {},
): Promise<{ sessionId: string; protocolVersion: string }> {
  const res = await postMcp(mcpUrl, initializeRequest(1, protocolVersion, capabilities), headers);
  const sessionId = res.headers.get("mcp-session-id");
  if (res.status !== 200 || !sessionId) throw new Error(`initialize failed: ${res.status} ${res.text}`);
  const negotiated = (res.messages[0] as { result: { protocolVersion: string } }).result.protocolVersion;
  await postMcp(mcpUrl, { jsonrpc: "2.0", method: "notifications/initialized" }, { "mcp-session-id": sessionId });
  return { sessionId, protocolVersion: negotiated };
}

/** Tool names of one gateway session's tools/list, over raw HTTP; the session is deleted afterwards. */
export async function listToolNames(mcpUrl: string, headers: Record<string, string> = {}): Promise<string[]> {
  const init = await postMcp(mcpUrl, { ...initializeRequest(1), params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "operator-test", version: "1.0.0" } } }, headers);
  const sessionId = init.headers.get("mcp-session-id");
  if (!sessionId) throw new Error(`initialize failed: HTTP ${init.status}`);
  const session = { ...headers, "mcp-session-id": sessionId, "mcp-protocol-version": "2025-06-18" };
  await postMcp(mcpUrl, { jsonrpc: "2.0", method: "notifications/initialized" }, session);
  const list = await postMcp(mcpUrl, { jsonrpc: "2.0", id: 2, method: "tools/list" }, session);
  await fetch(mcpUrl, { method: "DELETE", headers: session }).then((r) => r.text()).catch(() => undefined);
  const answer = list.messages[0] as { result?: { tools: Array<{ name: string }> } } | undefined;
  if (!answer?.result) throw new Error(`tools/list failed: ${list.text}`);
  return answer.result.tools.map((tool) => tool.name);
}

/** A POST whose SSE answer is read as it comes: the messages so far, and a way to wait for one. */
export async function streamingPost(url: string, body: unknown, headers: Record<string, string>, abort: AbortController) {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", accept: JSON_AND_SSE, ...headers }, body: JSON.stringify(body), signal: abort.signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let ended = false;
  const pump = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  })()
    .catch(() => undefined)
    .finally(() => (ended = true));
  const messages = () => sseMessages(text.slice(0, text.lastIndexOf("\n\n") + 2)) as Array<Record<string, unknown>>;
  return {
    status: res.status,
    contentType: res.headers.get("content-type") ?? "",
    messages,
    next: (predicate: (message: Record<string, unknown>) => boolean) => eventually(() => messages().find(predicate), 10_000, "a message on the call's stream"),
    ended: async () => {
      await pump;
      return ended;
    },
  };
}
