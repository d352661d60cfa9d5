// One way for upstream sessions to talk to any kind of upstream: post a message and read its
// answer, listen for what the server sends on its own, end the session. Streamable HTTP
// upstreams take it as is (UpstreamHttp); legacy SSE, stdio and OpenAPI upstreams are message
// channels behind a ChannelConnector. Upstreams (upstreams.ts) picks one per server by its registry `transport`.
import type { RegistryServer, UpstreamTransport } from "../contract/registry.js";
import type { RequestAbort } from "./request-abort.js";

export interface UpstreamTarget {
  url: string;
  /** Extra headers for every request, e.g. Authorization. */
  headers: Record<string, string>;
  /** The registry entry, for transports other than Streamable HTTP (absent: Streamable HTTP to url). */
  server?: RegistryServer;
}

export interface SessionHeaders {
  sessionId?: string;
  protocolVersion?: string;
}

export interface UpstreamConnector {
  /**
   * Sends one JSON-RPC message and feeds every message of the answer to onMessage, in order.
   * onSessionId sees the upstream session's id as soon as it is known. Resolves when the answer
   * is complete; a SessionExpiredError says the upstream forgot the session. `abort` stops it.
   */
  post(target: UpstreamTarget, session: SessionHeaders, body: string, onMessage: (message: unknown) => void, abort?: RequestAbort, onSessionId?: (sessionId: string) => void): Promise<void>;
  /**
   * Opens the server-to-client stream. Resolves false if the server offers none, true when the
   * stream ends. onOpen runs once the server holds the stream (what it sends from then on arrives).
   */
  listen(target: UpstreamTarget, session: SessionHeaders, onMessage: (message: unknown) => void, signal: AbortSignal, onOpen?: () => void): Promise<boolean>;
  /** Ends an upstream session; best effort. */
  terminate(target: UpstreamTarget, session: SessionHeaders): Promise<void>;
  /** The transport messages to target go over: its registry transport, or for `auto` the one detected (undefined until then). */
  transportInUse?(target: UpstreamTarget): ResolvedTransport | undefined;
}

/** A transport the broker really talks: `auto` resolves to one of the others. */
export type ResolvedTransport = Exclude<UpstreamTransport, "auto">;

export function upstreamTarget(server: RegistryServer, headers: Record<string, string>): UpstreamTarget {
  return { url: server.url ?? "", headers, server };
}

export function transportOf(target: UpstreamTarget): UpstreamTransport {
  return target.server?.transport ?? "streamable-http";
}
