// stdio-bridge: serves one stdio MCP server over HTTP in the server's own pod, so it registers
// through an HTTPRoute like any other server. Streamable HTTP at /mcp (every protocol revision the
// SDK speaks) and the legacy HTTP+SSE transport at /sse + /messages for 2024-11-05 clients. A
// stdio server serves one client, so every client session gets its own child process, ended
// with the session.
//
//   node dist/cmd/stdio-bridge/main.js [--port 8080] [--host 0.0.0.0] [--max-sessions 100] -- COMMAND [ARGS...]
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { parseArgs } from "node:util";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { isJSONRPCRequest, type JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { createLogger } from "../../internal/log/logger.js";
import { ErrorCode } from "../../internal/mcp/jsonrpc.js";
import { progressTokenOf, relatedRequest, type OpenRequest } from "../../internal/mcp/related-request.js";

const USAGE = "usage: stdio-bridge [--port 8080] [--host 0.0.0.0] [--max-sessions 100] -- COMMAND [ARGS...]\n";

interface Bridged {
  front: Transport;
  child: StdioClientTransport;
}

function options() {
  const separator = process.argv.indexOf("--", 2);
  const { values } = parseArgs({
    args: separator < 0 ? process.argv.slice(2) : process.argv.slice(2, separator),
    options: { port: { type: "string", default: process.env.PORT ?? "8080" }, host: { type: "string", default: "0.0.0.0" }, "max-sessions": { type: "string", default: "100" }, help: { type: "boolean", default: false } },
  });
  const [command, ...args] = separator < 0 ? [] : process.argv.slice(separator + 1);
  if (values.help || !command) {
    process.stderr.write(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  return { port: Number(values.port), host: values.host, maxSessions: Number(values["max-sessions"]), command, args };
}

const settings = options();
const log = createLogger();
const sessions = new Map<string, Bridged>();

/** Starts a child and connects it to a client-facing transport: messages both ways, each end closing the other. */
async function bridge(front: Transport): Promise<Bridged> {
  // The pod's environment is the server's: all of it is passed on.
  const child = new StdioClientTransport({ command: settings.command, args: settings.args, env: process.env as Record<string, string>, stderr: "inherit" });
  const open = new Map<string | number, OpenRequest>();
  child.onmessage = (message: JSONRPCMessage) => {
    if ("method" in message) {
      const related = relatedRequest(message, open.values());
      void front.send(message, related ? { relatedRequestId: related.id } : undefined).catch(() => undefined);
    } else {
      if ("id" in message && message.id !== undefined) open.delete(message.id);
      void front.send(message).catch(() => undefined);
    }
  };
  front.onmessage = (message: JSONRPCMessage) => {
    if (isJSONRPCRequest(message)) open.set(message.id, { id: message.id, progressToken: progressTokenOf(message.params) });
    child.send(message).catch((err: unknown) => log.warn({ err }, "could not write to the stdio server"));
  };
  let closed = false;
  const closeBoth = () => {
    if (closed) return;
    closed = true;
    if (front.sessionId) sessions.delete(front.sessionId);
    void child.close().catch(() => undefined);
    void front.close().catch(() => undefined);
  };
  child.onclose = closeBoth;
  front.onclose = closeBoth;
  child.onerror = (err) => log.warn({ err: err.message }, "stdio server error");
  await child.start();
  log.debug({ pid: child.pid }, "stdio server started");
  return { front, child };
}

function refuse(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: ErrorCode.TransportError, message } }));
}

function startFailure(res: ServerResponse, err: unknown): void {
  const code = (err as NodeJS.ErrnoException).code;
  refuse(res, 502, code === "ENOENT" ? `stdio command not found: ${settings.command}` : `stdio server failed to start: ${(err as Error).message}`);
}

async function handleStreamableHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const sessionId = req.headers["mcp-session-id"];
  if (typeof sessionId === "string") {
    const existing = sessions.get(sessionId);
    if (!existing) return refuse(res, 404, "session not found");
    return (existing.front as StreamableHTTPServerTransport).handleRequest(req, res);
  }
  if (req.method !== "POST") return refuse(res, 400, "no mcp-session-id");
  if (sessions.size >= settings.maxSessions) return refuse(res, 503, `session limit reached (${settings.maxSessions})`);
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: randomUUID, onsessioninitialized: (id) => void sessions.set(id, bridged) });
  let bridged: Bridged;
  try {
    bridged = await bridge(transport);
  } catch (err) {
    return startFailure(res, err);
  }
  await transport.handleRequest(req, res);
  // Not an initialize after all: nobody will use this child.
  if (!transport.sessionId) await bridged.child.close();
}

async function handleLegacySse(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  if (req.method === "GET" && url.pathname === "/sse") {
    if (sessions.size >= settings.maxSessions) return refuse(res, 503, `session limit reached (${settings.maxSessions})`);
    const transport = new SSEServerTransport("/messages", res);
    try {
      sessions.set(transport.sessionId, await bridge(transport));
    } catch (err) {
      return startFailure(res, err);
    }
    return transport.start();
  }
  const existing = sessions.get(url.searchParams.get("sessionId") ?? "");
  if (req.method !== "POST" || !existing) return refuse(res, 404, "session not found");
  return (existing.front as SSEServerTransport).handlePostMessage(req, res);
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://bridge");
  let handled: Promise<void>;
  if (url.pathname === "/mcp") handled = handleStreamableHttp(req, res);
  else if (url.pathname === "/sse" || url.pathname === "/messages") handled = handleLegacySse(req, res, url);
  else if (url.pathname === "/healthz") handled = Promise.resolve(void res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}'));
  else handled = Promise.resolve(refuse(res, 404, "not found; MCP is at /mcp (Streamable HTTP) and /sse (legacy SSE)"));
  handled.catch((err: unknown) => {
    log.error({ err }, "request failed");
    if (!res.headersSent) refuse(res, 500, "internal error");
  });
});

server.listen(settings.port, settings.host, () => log.info({ port: settings.port, command: settings.command }, "stdio-bridge listening; MCP at /mcp and /sse"));

const shutdown = () => {
  server.close();
  void Promise.all([...sessions.values()].map(({ child }) => child.close().catch(() => undefined))).then(() => process.exit(0));
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
