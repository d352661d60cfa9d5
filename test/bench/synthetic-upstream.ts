// A stand-in for N ordinary SDK-based MCP servers on one port: /mcp/0 .. /mcp/{N-1} (and /mcp == /mcp/0),
// each stateful with its own sessions, M catalogue tools plus `echo`. Built the way a typical MCP server is,
// so the direct baseline is a realistic upstream rather than a hand-tuned fast path.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { parseArgs } from "node:util";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { CallToolRequestSchema, isInitializeRequest, ListToolsRequestSchema, type Tool } from "@modelcontextprotocol/sdk/types.js";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    servers: { type: "string", default: "1" },
    tools: { type: "string", default: "10" },
  },
  strict: true,
});
const serverCount = Number(values.servers);
const toolCount = Number(values.tools);

const subjects = ["issues", "invoices", "deployments", "customers", "tickets", "metrics", "documents", "builds"];

function catalogueTool(i: number): Tool {
  const subject = subjects[i % subjects.length] ?? "records";
  return {
    name: `tool_${i}`,
    description: `Search ${subject} by free-text query and return the best matches with their ids and a short summary.`,
    inputSchema: {
      type: "object",
      properties: {
        query: { type: "string", description: `Free-text query over ${subject}` },
        limit: { type: "integer", minimum: 1, maximum: 100, default: 10, description: "Maximum number of results" },
        fields: { type: "array", items: { type: "string" }, description: "Fields to include in each result" },
      },
      required: ["query"],
    },
  };
}

const echoTool: Tool = {
  name: "echo",
  description: "Returns the given text unchanged.",
  inputSchema: { type: "object", properties: { text: { type: "string", description: "Text to echo back" } }, required: ["text"] },
};

// Every endpoint serves the same catalogue; building it once keeps 100x100 cheap.
const tools: Tool[] = [...Array.from({ length: toolCount }, (_, i) => catalogueTool(i)), echoTool];

/** One MCP server instance per session, as the SDK requires (a Server binds to a single transport). */
function newMcpServer(endpoint: number): Server {
  const server = new Server({ name: `synthetic-upstream-${endpoint}`, version: "0.1.0" }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools }));
  server.setRequestHandler(CallToolRequestSchema, (req) => {
    const args = req.params.arguments ?? {};
    if (req.params.name === "echo") return { content: [{ type: "text", text: String(args.text ?? "") }] };
    if (tools.some((t) => t.name === req.params.name)) {
      return { content: [{ type: "text", text: `endpoint ${endpoint}: no matches for ${JSON.stringify(args.query ?? "")}` }] };
    }
    return { content: [{ type: "text", text: `unknown tool ${req.params.name}` }], isError: true };
  });
  return server;
}

// Sessions are per endpoint so a session id from one upstream is meaningless on another.
const sessions = Array.from({ length: serverCount }, () => new Map<string, StreamableHTTPServerTransport>());

function endpointOf(url: string | undefined): number | undefined {
  const match = /^\/mcp(?:\/(\d+))?\/?(?:\?.*)?$/.exec(url ?? "");
  if (!match) return undefined;
  const index = Number(match[1] ?? 0);
  return index < serverCount ? index : undefined;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : undefined;
}

function jsonRpcError(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32000, message } }));
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  // The soak reads this to check that the gateway ends the upstream sessions it opened.
  if (req.method === "GET" && req.url === "/sessions") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ sessions: sessions.reduce((n, live) => n + live.size, 0) }));
    return;
  }
  const endpoint = endpointOf(req.url);
  const live = endpoint === undefined ? undefined : sessions[endpoint];
  if (endpoint === undefined || !live) return jsonRpcError(res, 404, "not found");
  const body = req.method === "POST" ? await readJson(req) : undefined;
  const sessionId = req.headers["mcp-session-id"];
  let transport = typeof sessionId === "string" ? live.get(sessionId) : undefined;
  if (!transport) {
    if (sessionId !== undefined) return jsonRpcError(res, 404, "session not found");
    if (req.method !== "POST" || !isInitializeRequest(body)) return jsonRpcError(res, 400, "no session; send initialize first");
    const created = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void live.set(id, created),
    });
    created.onclose = () => {
      if (created.sessionId) live.delete(created.sessionId);
    };
    await newMcpServer(endpoint).connect(created);
    transport = created;
  }
  await transport.handleRequest(req, res, body);
}

const httpServer = createServer((req, res) => {
  handle(req, res).catch((err: unknown) => {
    if (!res.headersSent) jsonRpcError(res, 500, String(err));
    else res.destroy();
  });
});
httpServer.listen(Number(values.port), "127.0.0.1", () => {
  const address = httpServer.address();
  console.log(`listening ${typeof address === "object" && address ? address.port : values.port}`);
});
process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
