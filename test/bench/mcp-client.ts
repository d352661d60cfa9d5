// Minimal MCP Streamable HTTP client on undici, shared by every bench leg so the direct and gateway
// numbers pay exactly the same client cost. It speaks just enough of the protocol for the benchmark.
import { Pool } from "undici";
import { mcpMessages } from "../helpers/http.js";

export const PROTOCOL_VERSION = "2025-11-25";
const REQUEST_TIMEOUT_MS = 15_000;
/** Stops a buggy server from paginating forever. */
const MAX_LIST_PAGES = 10_000;

interface JsonRpcResponse {
  jsonrpc: "2.0";
  id: number | string;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

/** One keep-alive pool per target; closed-loop clients never need more connections than there are clients. */
export function createPool(url: string, connections: number): Pool {
  return new Pool(new URL(url).origin, {
    connections,
    pipelining: 1,
    headersTimeout: REQUEST_TIMEOUT_MS,
    bodyTimeout: REQUEST_TIMEOUT_MS,
  });
}

export class McpSession {
  private nextId = 1;
  private sessionId: string | undefined;
  private readonly path: string;

  private constructor(
    private readonly pool: Pool,
    url: string,
    /** Sent with every request (e.g. a bearer token). */
    private readonly headers: Record<string, string>,
  ) {
    const u = new URL(url);
    this.path = u.pathname + u.search;
  }

  /** initialize + notifications/initialized, as every MCP client does before its first call. */
  static async open(pool: Pool, url: string, headers: Record<string, string> = {}): Promise<McpSession> {
    const session = new McpSession(pool, url, headers);
    await session.request("initialize", {
      protocolVersion: PROTOCOL_VERSION,
      capabilities: {},
      clientInfo: { name: "mcp-gateway-bench", version: "0.1.0" },
    });
    if (!session.sessionId) throw new Error("initialize response carried no mcp-session-id header");
    await session.post({ jsonrpc: "2.0", method: "notifications/initialized" });
    return session;
  }

  async callTool(name: string, args: Record<string, unknown>, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const result = await this.request("tools/call", { name, arguments: args }, signal);
    if (result.isError === true) throw new Error(`tool ${name} returned isError: ${JSON.stringify(result.content).slice(0, 200)}`);
    return result;
  }

  /** DELETE: ends the session on the server, as a well-behaved client does when it is done. */
  async close(): Promise<void> {
    if (!this.sessionId) return;
    const headers = { ...this.headers, "mcp-session-id": this.sessionId, "mcp-protocol-version": PROTOCOL_VERSION };
    const res = await this.pool.request({ path: this.path, method: "DELETE", headers });
    const text = await res.body.text();
    if (res.statusCode >= 400) throw new Error(`DELETE: HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
  }

  /** Every tool name, following nextCursor until the server stops paginating. */
  async listTools(): Promise<string[]> {
    const names: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const result = await this.request("tools/list", cursor === undefined ? {} : { cursor });
      for (const tool of (result.tools ?? []) as { name: string }[]) names.push(tool.name);
      cursor = typeof result.nextCursor === "string" ? result.nextCursor : undefined;
      if (cursor === undefined) return names;
    }
    throw new Error(`tools/list still paginating after ${MAX_LIST_PAGES} pages`);
  }

  /** `signal` abandons the request, queued or sent (the connection it was sent on is closed). */
  async request(method: string, params: Record<string, unknown>, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    const message = await this.post({ jsonrpc: "2.0", id, method, params }, id, signal);
    if (!message) throw new Error(`no JSON-RPC response to ${method}`);
    if (message.error) throw new Error(`JSON-RPC error ${message.error.code} on ${method}: ${message.error.message}`);
    return message.result ?? {};
  }

  private async post(body: object, id?: number, signal?: AbortSignal): Promise<JsonRpcResponse | undefined> {
    const headers: Record<string, string> = {
      ...this.headers,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
    };
    if (this.sessionId) {
      headers["mcp-session-id"] = this.sessionId;
      headers["mcp-protocol-version"] = PROTOCOL_VERSION;
    }
    const res = await this.pool.request({ path: this.path, method: "POST", headers, body: JSON.stringify(body), signal });
    // Reading the whole body (rather than stopping at the matching event) keeps the connection reusable;
    // servers end a POST's SSE stream once its response is sent.
    const text = await res.body.text();
    if (res.statusCode >= 400) throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
    const sessionHeader = res.headers["mcp-session-id"];
    if (typeof sessionHeader === "string") this.sessionId ??= sessionHeader;
    if (id === undefined) return undefined;
    const contentType = String(res.headers["content-type"] ?? "");
    return mcpMessages(contentType, text).find((m): m is JsonRpcResponse => typeof m === "object" && m !== null && (m as JsonRpcResponse).id === id);
  }
}

