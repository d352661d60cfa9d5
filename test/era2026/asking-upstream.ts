// A session-era (2025-only) MCP server whose tools ask the client during the call (elicitation,
// sampling, roots): the SDK v1 McpServer over Streamable HTTP with sessions, for the bridge to
// 2026-07-28 clients (broker/pending-calls.ts).
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { CreateMessageResultSchema, ElicitResultSchema, isInitializeRequest, ListRootsResultSchema, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";

export interface AskingUpstream {
  url: string;
  /** What the upstream saw of its own requests: answered with an error, cancelled calls. */
  events: string[];
  stop(): Promise<void>;
}

const text = (value: string): CallToolResult => ({ content: [{ type: "text", text: value }] });

/** A 2025-only MCP server (the SDK's McpServer over Streamable HTTP, sessions) whose tools ask the client during the call. */
export async function startAskingUpstream(): Promise<AskingUpstream> {
  const events: string[] = [];
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const serverFor = () => {
    const mcp = new McpServer({ name: "asking", version: "1.0.0" });
    const elicit = (extra: { sendRequest: McpServer["server"]["request"] }, message: string) =>
      extra.sendRequest({ method: "elicitation/create", params: { mode: "form", message, requestedSchema: { type: "object", properties: { answer: { type: "string" } } } } }, ElicitResultSchema);
    const sample = (extra: { sendRequest: McpServer["server"]["request"] }, prompt: string) =>
      extra.sendRequest({ method: "sampling/createMessage", params: { messages: [{ role: "user", content: { type: "text", text: prompt } }], maxTokens: 10 } }, CreateMessageResultSchema);
    const sampled = (result: { content: unknown }) => (result.content as { text?: string }).text ?? "";
    // Two rounds: the sampling request is sent only once the elicitation is answered.
    mcp.registerTool("interview", { description: "elicits, then samples" }, async (extra) => {
      const name = await elicit(extra, "your name?");
      const reply = await sample(extra, `greet ${String(name.content?.answer)}`);
      return text(`${String(name.content?.answer)} / ${sampled(reply)}`);
    });
    // Two requests at once: they reach the client in one InputRequiredResult.
    mcp.registerTool("both", { description: "elicits and samples at once" }, async (extra) => {
      const [name, reply] = await Promise.all([elicit(extra, "your name?"), sample(extra, "say hi")]);
      return text(`${String(name.content?.answer)} + ${sampled(reply)}`);
    });
    // Progress (for the caller's token) between the answer and the result.
    mcp.registerTool("progressive", { description: "elicits, then reports progress before it answers" }, async (extra) => {
      const name = await elicit(extra, "your name?");
      const progressToken = extra._meta?.progressToken;
      if (progressToken !== undefined) await extra.sendNotification({ method: "notifications/progress", params: { progressToken, progress: 1, total: 1, message: "almost" } });
      return text(`done for ${String(name.content?.answer)}`);
    });
    // Takes its time after the answer, and says when the gateway cancels it.
    mcp.registerTool("slow", { description: "elicits, then works for a while" }, async (extra) => {
      extra.signal.addEventListener("abort", () => events.push("slow call cancelled"));
      await elicit(extra, "go?");
      await new Promise((resolve) => setTimeout(resolve, 15_000).unref());
      return text("slowly done");
    });
    // URL mode, sent as a plain request: the SDK checks only that the client declared `elicitation`, not its mode.
    mcp.registerTool("visit", { description: "sends the client to a URL" }, async (extra) => {
      try {
        const answer = await extra.sendRequest({ method: "elicitation/create", params: { mode: "url", message: "sign in", url: "https://example.com/in", elicitationId: "visit-1" } }, ElicitResultSchema);
        return text(`visited: ${answer.action}`);
      } catch (err) {
        events.push(`visit answered with an error: ${(err as Error).message}`);
        return text("not visited");
      }
    });
    mcp.registerTool("roots", { description: "lists the client's roots" }, async (extra) => {
      const { roots } = await extra.sendRequest({ method: "roots/list" }, ListRootsResultSchema);
      return text(roots.map((root) => root.uri).join(","));
    });
    // Keeps working after its request failed, until the gateway cancels the call.
    mcp.registerTool("patient", { description: "elicits and reports what became of it" }, async (extra) => {
      extra.signal.addEventListener("abort", () => events.push("call cancelled"));
      try {
        await elicit(extra, "anyone?");
        return text("answered");
      } catch (err) {
        events.push(`request answered with an error: ${(err as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, 10_000).unref());
        return text("no answer");
      }
    });
    return mcp;
  };
  const http = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const id = req.headers["mcp-session-id"];
      let transport = typeof id === "string" ? transports.get(id) : undefined;
      if (!transport) {
        if (!isInitializeRequest(body)) {
          res.writeHead(404).end();
          return;
        }
        const created = new StreamableHTTPServerTransport({ sessionIdGenerator: randomUUID, onsessioninitialized: (sid) => void transports.set(sid, created) });
        transport = created;
        await serverFor().connect(created);
      }
      await transport.handleRequest(req, res, body);
    })();
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    events,
    stop: () =>
      new Promise((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString()) as unknown) : undefined;
}
