// The upstream of the bench's 2026-07-28 phase: an SDK v2 server (`createMcpHandler`, the per-request
// era only) with an `echo` tool, on node:http through the SDK's own adapter. Its own process, so its
// CPU is measured apart from the gateway's. Prints `listening PORT` once it listens.
//   node modern-upstream.js [--port 0]
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { toNodeHandler } from "@modelcontextprotocol/node";
import { createMcpHandler, McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";

const { values } = parseArgs({ options: { port: { type: "string", default: "0" } }, strict: true });

const handler = createMcpHandler(
  () => {
    const server = new McpServer({ name: "bench-modern", version: "1.0.0" });
    server.registerTool("echo", { description: "echoes text", inputSchema: z.object({ text: z.string() }) }, ({ text }) => ({ content: [{ type: "text", text }] }));
    return server;
  },
  { legacy: "reject" },
);
const serve = toNodeHandler(handler);
const http = createServer((req, res) => void serve(req, res));
http.listen(Number(values.port), "127.0.0.1", () => console.log(`listening ${(http.address() as AddressInfo).port}`));
