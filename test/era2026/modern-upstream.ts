// A test peer of the per-request era only: an SDK v2 server (`createMcpHandler`, legacy traffic
// rejected) behind node:http, recording the routing headers of every request it gets.
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { createMcpHandler, inputRequired, inputResponse, McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";

export interface SeenRequest {
  method?: string;
  name?: string;
  version?: string;
  session?: string;
  authorization?: string;
  body: { method?: string; params?: { _meta?: Record<string, unknown>; requestState?: unknown } };
}

export interface ModernUpstream {
  url: string;
  seen: SeenRequest[];
  stop(): Promise<void>;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export function startModernUpstream(name: string): Promise<ModernUpstream> {
  const handler = createMcpHandler(
    () => {
      const server = new McpServer({ name, version: "2.0.0" });
      server.registerTool("echo", { description: "echoes text", inputSchema: z.object({ text: z.string() }) }, ({ text }) => ({ content: [{ type: "text", text }] }));
      // Multi round-trip: asks for a name, then greets with it.
      server.registerTool("greet", { description: "asks the caller's name", inputSchema: z.object({}) }, (_args, ctx) => {
        const answer = inputResponse(ctx.mcpReq.inputResponses, "who");
        if (answer.kind === "elicit" && answer.action === "accept") {
          return { content: [{ type: "text", text: `hello ${String(answer.content?.name)}` }] };
        }
        return inputRequired({
          inputRequests: { who: { method: "elicitation/create", params: { mode: "form", message: "your name?", requestedSchema: { type: "object", properties: { name: { type: "string" } } } } } },
          requestState: `${name}-state`,
        });
      });
      return server;
    },
    { legacy: "reject" },
  );
  return serveRecording(handler);
}

/** Serves an SDK v2 fetch handler on a loopback port, recording the routing headers and body of every request. */
export async function serveRecording(handler: { fetch(request: Request): Promise<Response> }): Promise<ModernUpstream> {
  const seen: SeenRequest[] = [];
  const http = createServer((req, res) => {
    void (async () => {
      const text = req.method === "POST" ? await readBody(req) : undefined;
      seen.push({
        method: header(req, "mcp-method"),
        name: header(req, "mcp-name"),
        version: header(req, "mcp-protocol-version"),
        session: header(req, "mcp-session-id"),
        authorization: header(req, "authorization"),
        body: text ? (JSON.parse(text) as SeenRequest["body"]) : {},
      });
      const headers = new Headers();
      for (const [key, value] of Object.entries(req.headers)) if (typeof value === "string") headers.set(key, value);
      const response = await handler.fetch(new Request(`http://127.0.0.1${req.url ?? "/"}`, { method: req.method, headers, body: text }));
      res.writeHead(response.status, Object.fromEntries(response.headers));
      if (response.body) for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) res.write(chunk);
      res.end();
    })().catch(() => res.destroy());
  });
  http.listen(0, "127.0.0.1");
  await new Promise((resolve) => http.once("listening", resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    seen,
    stop: () =>
      new Promise((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}
