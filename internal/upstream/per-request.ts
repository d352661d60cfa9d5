// A client of an upstream that speaks the per-request era (MCP 2026-07-28): no initialize and no
// upstream session; every request carries the client's `_meta` (version, capabilities, client
// info, log level) and the Mcp-Method / Mcp-Name headers the revision asks for. `server/discover`
// tells whether an upstream speaks it at all; `subscriptions/listen` streams what it sends on its own.
import { randomInt } from "node:crypto";
import { classify, type JsonRpcMessage, type JsonRpcResponse, type Params } from "../mcp/jsonrpc.js";
import { isPerRequestProtocolVersion, MetaKey, MIRRORED_PARAM, PER_REQUEST_PROTOCOL_VERSIONS, PerRequestMethod } from "../mcp/protocol.js";
import type { UpstreamConnector, UpstreamTarget } from "./connector.js";
import { UpstreamProtocolError } from "./errors.js";
import { exchange, type ExchangeOptions } from "./exchange.js";
import { RequestAbort } from "./request-abort.js";

/** What the gateway declares of the client in each request (2026-07-28 `_meta`). */
export interface PerRequestMeta {
  protocolVersion: string;
  clientCapabilities: Record<string, unknown>;
  clientInfo?: { name: string; version: string };
  logLevel?: string;
}

/** What server/discover answered, for an upstream that offers a per-request version. */
export interface DiscoverResult {
  protocolVersion: string;
  capabilities: Record<string, unknown>;
  instructions?: string;
  serverInfo?: { name?: string; version?: string };
}

export interface PerRequestOptions extends ExchangeOptions {
  meta: PerRequestMeta;
}

/** As UpstreamSession's: ids start at a random offset per process, so replicas never send the same one at once. */
let nextId = randomInt(2 ** 31) * 2 ** 20 + 1;

/** Mcp-Name must be a plain header value; anything else goes base64-encoded in the revision's sentinel. */
function headerValue(name: string): string {
  return /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(name) ? name : `=?base64?${Buffer.from(name, "utf8").toString("base64")}?=`;
}


/** The request's params with `_meta` saying who asks: the revision's keys replaced by `meta`, other keys (progressToken, trace context) kept. */
function withMeta(params: Params | undefined, meta: PerRequestMeta): Params {
  const own = (params?._meta ?? {}) as Record<string, unknown>;
  const merged: Record<string, unknown> = {};
  for (const key of Object.keys(own)) if (!key.startsWith("io.modelcontextprotocol/")) merged[key] = own[key];
  merged[MetaKey.ProtocolVersion] = meta.protocolVersion;
  merged[MetaKey.ClientCapabilities] = meta.clientCapabilities;
  if (meta.clientInfo) merged[MetaKey.ClientInfo] = meta.clientInfo;
  if (meta.logLevel) merged[MetaKey.LogLevel] = meta.logLevel;
  return { ...params, _meta: merged };
}

export class PerRequestUpstream {
  constructor(
    private readonly connector: UpstreamConnector,
    private readonly target: UpstreamTarget,
  ) {}

  /** Sends one request as the revision asks and waits for its answer. */
  request(method: string, params: Params | undefined, options: PerRequestOptions): Promise<JsonRpcResponse> {
    return exchange(this.connector, this.targetFor(method, params, options.authorization), { protocolVersion: options.meta.protocolVersion }, { jsonrpc: "2.0", id: nextId++, method, params: withMeta(params, options.meta) }, options);
  }

  /**
   * subscriptions/listen with the filter `notifications`: every message of the stream (first the
   * acknowledgement) goes to onMessage until the upstream ends it or `signal` aborts. No timeout:
   * the stream is meant to stay open (the connector's limit on silence still holds, which the
   * upstream's keep-alive comments reset).
   */
  async listen(notifications: Record<string, unknown>, options: { meta: PerRequestMeta; authorization?: string; signal: AbortSignal; onMessage: (message: JsonRpcMessage) => void }): Promise<void> {
    const { signal } = options;
    const abort = new RequestAbort();
    const stop = () => abort.abort(new UpstreamProtocolError("listen stream closed"));
    if (signal.aborted) return;
    signal.addEventListener("abort", stop, { once: true });
    const method = PerRequestMethod.SubscriptionsListen;
    const body = JSON.stringify({ jsonrpc: "2.0", id: nextId++, method, params: withMeta({ notifications }, options.meta) });
    const onMessage = (raw: unknown) => {
      const classified = classify(raw);
      if (classified.kind !== "invalid") options.onMessage(classified.message);
    };
    try {
      await this.connector.post(this.targetFor(method, undefined, options.authorization), { protocolVersion: options.meta.protocolVersion }, body, onMessage, abort);
    } catch (err) {
      if (!signal.aborted) throw err;
    } finally {
      signal.removeEventListener("abort", stop);
    }
  }

  /** The target with the revision's routing headers for one request, and the client's Authorization. */
  private targetFor(method: string, params: Params | undefined, authorization: string | undefined): UpstreamTarget {
    const headers: Record<string, string> = { ...this.target.headers, "mcp-method": method };
    if (authorization !== undefined) headers.authorization = authorization;
    const key = MIRRORED_PARAM.get(method);
    const name = key === undefined ? undefined : params?.[key];
    if (typeof name === "string") headers["mcp-name"] = headerValue(name);
    return { ...this.target, headers };
  }

  /**
   * Asks server/discover for the newest per-request version both sides speak. Undefined when the
   * upstream offers none (a session-era server refuses the request, or lists no such version).
   */
  async discover(meta: Omit<PerRequestMeta, "protocolVersion">, timeoutMs: number): Promise<DiscoverResult | undefined> {
    const protocolVersion = PER_REQUEST_PROTOCOL_VERSIONS[0];
    const response = await this.request(PerRequestMethod.ServerDiscover, undefined, { meta: { ...meta, protocolVersion }, timeoutMs }).catch(() => undefined);
    if (!response || "error" in response) return undefined;
    const result = response.result as { supportedVersions?: unknown; capabilities?: unknown; instructions?: unknown; _meta?: Record<string, unknown> };
    const offered = Array.isArray(result.supportedVersions) ? result.supportedVersions : [];
    const version = PER_REQUEST_PROTOCOL_VERSIONS.find((candidate) => offered.includes(candidate));
    if (!version || !isPerRequestProtocolVersion(version) || typeof result.capabilities !== "object" || result.capabilities === null) return undefined;
    const serverInfo = result._meta?.[MetaKey.ServerInfo] as DiscoverResult["serverInfo"] | undefined;
    return {
      protocolVersion: version,
      capabilities: result.capabilities as Record<string, unknown>,
      instructions: typeof result.instructions === "string" ? result.instructions : undefined,
      serverInfo: typeof serverInfo === "object" && serverInfo !== null ? serverInfo : undefined,
    };
  }
}
