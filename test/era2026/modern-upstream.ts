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

/** The request with `capabilities` in place of the client capabilities its `_meta` declares. */
function claiming(text: string, capabilities: Record<string, unknown>): string {
  const body = JSON.parse(text) as { params?: { _meta?: Record<string, unknown> } };
  const meta = body.params?._meta;
  if (meta) meta["io.modelcontextprotocol/clientCapabilities"] = capabilities;
  return JSON.stringify(body);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** The text of a sampling answer (a CreateMessageResult with one text block). */
function sampledText(result: unknown): string {
  const content = (result as { content?: { type?: string; text?: string } }).content;
  return content?.type === "text" ? String(content.text) : "";
}

export interface ModernUpstreamOptions {
  /**
   * Client capabilities the server is told the caller declared, whatever the request said: it
   * then asks for input the caller cannot give, as an upstream that ignores `_meta` would.
   */
  claimCapabilities?: Record<string, unknown>;
}

export async function startModernUpstream(name: string, options: ModernUpstreamOptions = {}): Promise<ModernUpstream> {
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
      // Sampling: the client's model summarizes the text.
      server.registerTool("summarize", { description: "asks the caller's model for a summary", inputSchema: z.object({ text: z.string() }) }, ({ text }, ctx) => {
        const answer = inputResponse(ctx.mcpReq.inputResponses, "summary");
        if (answer.kind === "sampling") return { content: [{ type: "text", text: `summary: ${sampledText(answer.result)}` }] };
        return inputRequired({ inputRequests: { summary: inputRequired.createMessage({ messages: [{ role: "user", content: { type: "text", text } }], maxTokens: 50 }) } });
      });
      // Roots: which directories the caller works in.
      server.registerTool("workspace", { description: "asks the caller's roots", inputSchema: z.object({}) }, (_args, ctx) => {
        const answer = inputResponse(ctx.mcpReq.inputResponses, "roots");
        if (answer.kind === "roots") return { content: [{ type: "text", text: `roots: ${answer.roots.map((root) => root.uri).join(", ")}` }] };
        return inputRequired({ inputRequests: { roots: inputRequired.listRoots() } });
      });
      // Two inputs in one round: a name (elicitation) and a motto (sampling).
      server.registerTool("profile", { description: "asks a name and a motto at once", inputSchema: z.object({}) }, (_args, ctx) => {
        const who = inputResponse(ctx.mcpReq.inputResponses, "who");
        const motto = inputResponse(ctx.mcpReq.inputResponses, "motto");
        if (who.kind === "elicit" && who.action === "accept" && motto.kind === "sampling") {
          return { content: [{ type: "text", text: `${String(who.content?.name)}: ${sampledText(motto.result)}` }] };
        }
        return inputRequired({
          inputRequests: {
            who: inputRequired.elicit({ message: "your name?", requestedSchema: { type: "object", properties: { name: { type: "string" } } } }),
            motto: inputRequired.createMessage({ messages: [{ role: "user", content: { type: "text", text: "a motto" } }], maxTokens: 20 }),
          },
        });
      });
      // Several rounds: one confirmation per round, counted in requestState, until `times` are in.
      server.registerTool("nag", { description: "asks `times` rounds in a row", inputSchema: z.object({ times: z.number().int().positive() }) }, ({ times }, ctx) => {
        const state = ctx.mcpReq.requestState<string>();
        const answered = state === undefined ? 0 : Number(state.split(":")[1]) + (inputResponse(ctx.mcpReq.inputResponses, "again").kind === "elicit" ? 1 : 0);
        if (answered >= times) return { content: [{ type: "text", text: `answered ${answered} rounds` }] };
        return inputRequired({ inputRequests: { again: inputRequired.elicit({ message: `round ${answered + 1}?`, requestedSchema: { type: "object", properties: {} } }) }, requestState: `nag:${answered}` });
      });
      // Load shedding: the first attempt only says to come back (requestState alone), the retry is served.
      server.registerTool("shed", { description: "asks to be retried", inputSchema: z.object({}) }, (_args, ctx) => {
        if (ctx.mcpReq.requestState<string>() === "busy") return { content: [{ type: "text", text: "served on retry" }] };
        return inputRequired({ requestState: "busy" });
      });
      // URL-mode elicitation: the caller is sent to a page.
      server.registerTool("connect", { description: "sends the caller to a URL", inputSchema: z.object({}) }, (_args, ctx) => {
        if (inputResponse(ctx.mcpReq.inputResponses, "visit").kind === "elicit") return { content: [{ type: "text", text: "connected" }] };
        return inputRequired({ inputRequests: { visit: inputRequired.elicitUrl({ message: "sign in", url: "https://example.com/connect" }) } });
      });
      return server;
    },
    { legacy: "reject" },
  );
  return serveRecording(handler, options);
}

/** Serves an SDK v2 fetch handler on a loopback port, recording the routing headers and body of every request. */
export async function serveRecording(handler: { fetch(request: Request): Promise<Response> }, options: ModernUpstreamOptions = {}): Promise<ModernUpstream> {
  const seen: SeenRequest[] = [];
  const http = createServer((req, res) => {
    void (async () => {
      const received = req.method === "POST" ? await readBody(req) : undefined;
      const text = received && options.claimCapabilities ? claiming(received, options.claimCapabilities) : received;
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
      // A client that goes away cancels the body, so a long stream (subscriptions/listen) learns it.
      const reader = response.body?.getReader();
      res.on("close", () => void reader?.cancel().catch(() => undefined));
      for (let chunk = await reader?.read(); chunk && !chunk.done; chunk = await reader?.read()) res.write(chunk.value);
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
