// Raw HTTP requests of the per-request era (MCP 2026-07-28): the headers and `_meta` a conforming
// client sends, each overridable so tests can break exactly one thing.
import { postMcp, type McpHttpResponse, JSON_AND_SSE, sseMessages } from "./http.js";

export const MODERN_VERSION = "2026-07-28";

export function modernMeta(capabilities: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
    "io.modelcontextprotocol/clientInfo": { name: "raw-modern-test", version: "1.0.0" },
    "io.modelcontextprotocol/clientCapabilities": capabilities,
    ...extra,
  };
}

/** The headers a conforming client derives from the body: version, Mcp-Method and, where the method has one, Mcp-Name (a task's id for tasks/*). */
export function modernHeaders(method: string, params: Record<string, unknown>): Record<string, string> {
  const headers: Record<string, string> = { "mcp-protocol-version": MODERN_VERSION, "mcp-method": method };
  const name = method === "resources/read" ? params.uri : method === "tools/call" || method === "prompts/get" ? params.name : method.startsWith("tasks/") ? params.taskId : undefined;
  if (typeof name === "string") headers["mcp-name"] = name;
  return headers;
}

export interface ModernPostOptions {
  id?: string | number;
  /** Replaces the derived headers (a value of undefined removes one). */
  headers?: Record<string, string | undefined>;
  capabilities?: Record<string, unknown>;
  /** Added to `_meta`. */
  meta?: Record<string, unknown>;
  /** `params` go as given, without `_meta` added. */
  bare?: boolean;
}

/** Posts one request with `_meta` added to `params` (unless params already has `_meta`, or `bare`). */
export function modernPost(url: string, method: string, params: Record<string, unknown> = {}, options: ModernPostOptions = {}): Promise<McpHttpResponse> {
  const body = { jsonrpc: "2.0", id: options.id ?? 1, method, params: options.bare || "_meta" in params ? params : { ...params, _meta: modernMeta(options.capabilities, options.meta) } };
  const headers: Record<string, string> = { ...modernHeaders(method, params) };
  for (const [key, value] of Object.entries(options.headers ?? {})) {
    if (value === undefined) delete headers[key];
    else headers[key] = value;
  }
  return postMcp(url, body, headers);
}

/** An open subscriptions/listen stream: the messages so far, and a way to wait for one. */
export interface ListenStream {
  status: number;
  messages: unknown[];
  next(predicate: (message: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  close(): void;
}

export async function openListen(url: string, notifications: Record<string, unknown>, id: string | number = "listen-1", headers: Record<string, string> = {}, capabilities: Record<string, unknown> = {}): Promise<ListenStream> {
  const controller = new AbortController();
  const params = { notifications, _meta: modernMeta(capabilities) };
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: JSON_AND_SSE, ...modernHeaders("subscriptions/listen", params), ...headers },
    body: JSON.stringify({ jsonrpc: "2.0", id, method: "subscriptions/listen", params }),
    signal: controller.signal,
  });
  const messages: unknown[] = [];
  const waiters = new Set<() => void>();
  let buffer = "";
  void (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        const end = buffer.lastIndexOf("\n\n");
        if (end < 0) continue;
        messages.push(...sseMessages(buffer.slice(0, end)));
        buffer = buffer.slice(end + 2);
        for (const wake of waiters) wake();
      }
    } catch {
      // Closed by the test.
    }
  })();
  const next = (predicate: (message: Record<string, unknown>) => boolean, timeoutMs = 10_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const look = () => {
        const found = messages.find((message) => predicate(message as Record<string, unknown>));
        if (found === undefined) return;
        clearTimeout(timer);
        waiters.delete(look);
        resolve(found as Record<string, unknown>);
      };
      const timer = setTimeout(() => {
        waiters.delete(look);
        reject(new Error(`no matching message on the listen stream within ${timeoutMs} ms; got ${JSON.stringify(messages)}`));
      }, timeoutMs);
      waiters.add(look);
      look();
    });
  return { status: res.status, messages, next, close: () => controller.abort() };
}
