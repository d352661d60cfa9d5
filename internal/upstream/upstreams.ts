// The broker's one UpstreamConnector: Streamable HTTP, legacy SSE, stdio processes and OpenAPI
// servers, picked per server by its registry `transport`.
import type { Logger } from "../log/logger.js";
import { OpenApiServers } from "../openapi/server.js";
import { StdioProcesses, type StdioOptions } from "../stdio/processes.js";
import { ChannelConnector } from "./channel.js";
import { transportOf, type ResolvedTransport, type SessionHeaders, type UpstreamConnector, type UpstreamTarget } from "./connector.js";
import { UpstreamHttpError } from "./errors.js";
import { UpstreamHttp, type UpstreamHttpOptions } from "./http.js";
import type { RequestAbort } from "./request-abort.js";
import { openSseChannel } from "./sse.js";

/** Picks Streamable HTTP or a message channel per target; `auto` tries Streamable HTTP first and falls back to legacy SSE on a 4xx, as the SDK clients do. */
export class Upstreams implements UpstreamConnector {
  /** What `auto` found per URL, so later sessions go straight to it. */
  private readonly detected = new Map<string, "streamable-http" | "sse">();

  readonly http: UpstreamHttp;
  readonly stdio: StdioProcesses;
  private readonly channels: ChannelConnector;

  constructor(httpOptions: UpstreamHttpOptions, stdioOptions: Omit<StdioOptions, "maxLineBytes">, log: Logger) {
    const http = new UpstreamHttp(httpOptions);
    const stdio = new StdioProcesses({ ...stdioOptions, maxLineBytes: httpOptions.maxResponseBytes }, log);
    const openapi = new OpenApiServers(http.agent, httpOptions);
    this.http = http;
    this.stdio = stdio;
    this.channels = new ChannelConnector((target, events, signal) => {
      const transport = transportOf(target);
      if (transport === "stdio") return stdio.open(target, events, signal);
      if (transport === "openapi") return openapi.open(target, events);
      return openSseChannel(http, target, events, signal);
    });
  }

  async post(target: UpstreamTarget, session: SessionHeaders, body: string, onMessage: (message: unknown) => void, abort?: RequestAbort, onSessionId?: (sessionId: string) => void): Promise<void> {
    if (transportOf(target) !== "auto" || session.sessionId !== undefined || this.detected.has(target.url)) {
      return this.connector(target, session).post(target, session, body, onMessage, abort, onSessionId);
    }
    try {
      await this.http.post(target, session, body, onMessage, abort, onSessionId);
      this.detected.set(target.url, "streamable-http");
    } catch (err) {
      if (!(err instanceof UpstreamHttpError) || err.status < 400 || err.status >= 500) throw err;
      this.detected.set(target.url, "sse");
      await this.channels.post(target, session, body, onMessage, abort, onSessionId);
    }
  }

  listen(target: UpstreamTarget, session: SessionHeaders, onMessage: (message: unknown) => void, signal: AbortSignal, onOpen?: () => void): Promise<boolean> {
    return this.connector(target, session).listen(target, session, onMessage, signal, onOpen);
  }

  terminate(target: UpstreamTarget, session: SessionHeaders): Promise<void> {
    return this.connector(target, session).terminate(target, session);
  }

  transportInUse(target: UpstreamTarget): ResolvedTransport | undefined {
    const transport = transportOf(target);
    return transport === "auto" ? this.detected.get(target.url) : transport;
  }

  async destroy(): Promise<void> {
    await Promise.all([this.channels.closeAll(), this.http.destroy()]);
  }

  private connector(target: UpstreamTarget, session: SessionHeaders): UpstreamConnector {
    switch (transportOf(target)) {
      case "streamable-http":
        return this.http;
      case "auto":
        if (session.sessionId !== undefined && this.channels.has(session.sessionId)) return this.channels;
        return this.detected.get(target.url) === "sse" ? this.channels : this.http;
      default:
        return this.channels;
    }
  }
}
