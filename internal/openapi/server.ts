// An `openapi` registry entry served in-process as an MCP server (the SDK's Server over an
// in-memory transport), so discovery, sessions and routing treat it like any upstream: tools/list
// lists the document's operations, tools/call makes the HTTP request, with the server's credential
// as Authorization. JSON answers become structured results; HTTP errors and answers that are not
// JSON become isError results that carry the status and the body.
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError, type CallToolResult, type JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { OpenAPI } from "openapi-types";
import { request, type Dispatcher } from "undici";
import type { ChannelEvents, MessageChannel } from "../upstream/channel.js";
import type { UpstreamTarget } from "../upstream/connector.js";
import { describeUpstreamError, UpstreamError } from "../upstream/errors.js";
import { readLimited, type UpstreamHttpOptions } from "../upstream/http.js";
import { loadOpenApiDocument } from "./document.js";
import { httpCallFor, operationsOf, type Operation } from "./operations.js";

/** A loaded document serves new sessions this long; then the next session loads it again (it may have changed). */
const DOCUMENT_TTL_MS = 60_000;
/** The part of an error body a tool result carries. */
const MAX_ERROR_BODY_CHARS = 4_000;

interface LoadedApi {
  info: { title: string; version: string; description?: string };
  operations: Map<string, Operation>;
}

export class OpenApiServers {
  private readonly documents = new Map<string, { loaded: Promise<LoadedApi>; at: number }>();

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly options: UpstreamHttpOptions,
  ) {}

  async open(target: UpstreamTarget, events: ChannelEvents): Promise<MessageChannel> {
    const api = await this.load(target);
    const server = new Server({ name: api.info.title, version: api.info.version }, { capabilities: { tools: {} }, ...(api.info.description ? { instructions: api.info.description } : {}) });
    server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [...api.operations.values()].map((operation) => operation.tool) }));
    server.setRequestHandler(CallToolRequestSchema, (call, extra) => {
      const operation = api.operations.get(call.params.name);
      if (!operation) throw new McpError(ErrorCode.InvalidParams, `unknown tool ${call.params.name}`);
      return this.call(operation, target, call.params.arguments ?? {}, extra.signal);
    });
    const [client, serverSide] = InMemoryTransport.createLinkedPair();
    client.onmessage = (message) => events.message(message);
    await server.connect(serverSide);
    await client.start();
    return {
      send: (message) => client.send(JSON.parse(message) as JSONRPCMessage),
      close: () => server.close(),
    };
  }

  private load(target: UpstreamTarget): Promise<LoadedApi> {
    const source = target.server?.openapi;
    if (!source) return Promise.reject(new UpstreamError("openapi server has no openapi document"));
    const key = JSON.stringify([target.url, source, target.headers.authorization ?? ""]);
    const cached = this.documents.get(key);
    if (cached && Date.now() - cached.at < DOCUMENT_TTL_MS) return cached.loaded;
    const loaded = loadOpenApiDocument(source, target.url, target.headers, this.dispatcher, this.options.bodyTimeoutMs).then(toLoadedApi);
    this.documents.set(key, { loaded, at: Date.now() });
    loaded.catch(() => this.documents.delete(key));
    return loaded;
  }

  private async call(operation: Operation, target: UpstreamTarget, args: Record<string, unknown>, signal: AbortSignal): Promise<CallToolResult> {
    let http;
    try {
      http = httpCallFor(operation, target.url, args);
    } catch (err) {
      return errorResult((err as Error).message);
    }
    if (target.headers.authorization) http.headers.authorization = target.headers.authorization;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(http.url, {
        method: http.method as Dispatcher.HttpMethod,
        headers: http.headers,
        body: http.body,
        dispatcher: this.dispatcher,
        signal,
        headersTimeout: this.options.firstByteTimeoutMs,
        bodyTimeout: this.options.bodyTimeoutMs,
      });
    } catch (err) {
      return errorResult(`${operation.method} ${operation.path} failed: ${describeUpstreamError(err)}`);
    }
    const text = await readLimited(res.body, this.options.maxResponseBytes).catch((err: unknown) => err as Error);
    if (text instanceof Error) return errorResult(`${operation.method} ${operation.path}: ${text.message}`);
    const contentType = String(res.headers["content-type"] ?? "");
    if (res.statusCode >= 400) return errorResult(`HTTP ${res.statusCode}${text ? `: ${text.slice(0, MAX_ERROR_BODY_CHARS)}` : ""}`);
    if (text.trim() === "") return { content: [{ type: "text", text: `HTTP ${res.statusCode} (no content)` }] };
    if (/\bjson\b/i.test(contentType)) {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return errorResult(`HTTP ${res.statusCode} answered invalid JSON: ${text.slice(0, 200)}`);
      }
      const structuredContent = typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : { result: value };
      return { content: [{ type: "text", text }], structuredContent };
    }
    if (/^text\/(?!html)/i.test(contentType)) return { content: [{ type: "text", text }] };
    return errorResult(`HTTP ${res.statusCode} answered ${contentType || "no content type"}, not JSON: ${text.slice(0, 200)}`);
  }
}

function toLoadedApi(api: OpenAPI.Document): LoadedApi {
  const info = api.info as LoadedApi["info"];
  return { info: { title: info.title || "openapi", version: info.version || "0", description: info.description }, operations: new Map(operationsOf(api).map((operation) => [operation.tool.name, operation])) };
}

function errorResult(text: string): CallToolResult {
  return { content: [{ type: "text", text }], isError: true };
}
