// Load generator on the MCP SDK's own clients, for the server-kinds and 2026-07-28 phases: the same
// closed loop as loadgen.ts, but each client is an SDK Client on a Streamable HTTP, legacy SSE or
// stdio transport (a stdio or SSE server can only be called directly through such a client), or
// the SDK v2 client pinned to 2026-07-28 (`modern`: no session, `_meta` in every request). Run as
// its own process so its CPU is not charged to whatever it measures; prints one JSON line (closed-loop.ts).
//   node sdk-loadgen.js --transport streamable-http|sse|modern --url URL  | --transport stdio --command CMD [--arg A]...
//     --tool NAME --arguments JSON --concurrency C --duration-ms D --warmup-ms W
import { parseArgs } from "node:util";
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { closedLoop } from "./closed-loop.js";

const { values } = parseArgs({
  options: {
    transport: { type: "string" },
    url: { type: "string" },
    command: { type: "string" },
    arg: { type: "string", multiple: true, default: [] },
    tool: { type: "string", default: "echo" },
    arguments: { type: "string", default: "{}" },
    concurrency: { type: "string", default: "1" },
    "duration-ms": { type: "string", default: "10000" },
    "warmup-ms": { type: "string", default: "1000" },
  },
  strict: true,
});

function transport(): Transport {
  const { transport: kind, url, command } = values;
  if (kind === "stdio") {
    if (!command) throw new Error("--transport stdio needs --command");
    // One process per client, as a stdio server serves one client; its stderr is not ours to measure.
    return new StdioClientTransport({ command, args: values.arg, stderr: "ignore" });
  }
  if (!url) throw new Error(`--transport ${kind} needs --url`);
  if (kind === "sse") return new SSEClientTransport(new URL(url));
  if (kind === "streamable-http") return new StreamableHTTPClientTransport(new URL(url));
  throw new Error(`--transport: expected streamable-http, sse, modern or stdio, got ${kind}`);
}

/** The one thing a lane does with its client: call the tool; both SDKs' clients fit. */
interface ToolCaller {
  callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

const CLIENT_INFO = { name: "mcp-gateway-bench", version: "1.0.0" };

async function connect(): Promise<ToolCaller> {
  if (values.transport === "modern") {
    if (!values.url) throw new Error("--transport modern needs --url");
    const client = new ModernClient(CLIENT_INFO, { versionNegotiation: { mode: { pin: "2026-07-28" } } });
    await client.connect(new ModernTransport(new URL(values.url)));
    return client;
  }
  const client = new Client(CLIENT_INFO);
  await client.connect(transport());
  return client;
}

const concurrency = Number(values.concurrency);
const toolArguments = JSON.parse(values.arguments) as Record<string, unknown>;
const clients = await Promise.all(Array.from({ length: concurrency }, connect));
const call = async (client: ToolCaller): Promise<void> => {
  const answer = await client.callTool({ name: values.tool, arguments: toolArguments });
  if (answer.isError) throw new Error(`${values.tool} returned isError: ${JSON.stringify(answer.content).slice(0, 300)}`);
};
// One untimed call each: a gateway opens a session's upstream session (for stdio, starts its process) on first use.
await Promise.all(clients.map(call));
const result = await closedLoop(concurrency, Number(values["warmup-ms"]), Number(values["duration-ms"]), (lane) => call(clients[lane]!));
await Promise.all(clients.map((client) => client.close()));
console.log(JSON.stringify(result));
