// A server-sent-events response: JSON-RPC messages as `message` events, plus comment lines that
// keep idle connections open through proxies.
import type { ServerResponse } from "node:http";
import type { JsonRpcMessage } from "../mcp/jsonrpc.js";

export const SSE_HEADERS = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache, no-transform",
  connection: "keep-alive",
} as const;

export function sseEvent(json: string): string {
  return `event: message\ndata: ${json}\n\n`;
}

export class EventStream {
  private keepAlive?: NodeJS.Timeout;
  private open = true;

  constructor(
    private readonly res: ServerResponse,
    keepAliveMs: number,
    headers: Record<string, string> = {},
  ) {
    res.writeHead(200, { ...SSE_HEADERS, ...headers });
    res.flushHeaders();
    if (keepAliveMs > 0) {
      this.keepAlive = setInterval(() => this.write(": keep-alive\n\n"), keepAliveMs);
      this.keepAlive.unref();
    }
    res.on("close", () => this.dispose());
  }

  get isOpen(): boolean {
    return this.open;
  }

  onClose(listener: () => void): void {
    this.res.on("close", listener);
  }

  send(message: JsonRpcMessage): void {
    this.write(sseEvent(JSON.stringify(message)));
  }

  sendJson(json: string): void {
    this.write(sseEvent(json));
  }

  close(): void {
    if (!this.open) return;
    this.dispose();
    this.res.end();
  }

  private write(chunk: string): void {
    if (this.open) this.res.write(chunk);
  }

  private dispose(): void {
    this.open = false;
    clearInterval(this.keepAlive);
  }
}
