// The session-era front end (MCP 2024-11-05 .. 2025-11-25) of the method table: initialize opens
// a gateway session (merged capabilities and instructions), its requests run through the table,
// and what the client sends besides requests (cancellations, answers to upstream requests, roots
// changes) goes to the relay. The transport's hooks for sessions land here.
import type { IncomingHttpHeaders } from "node:http";
import { InitializeRequestParamsSchema } from "@modelcontextprotocol/sdk/types.js";
import type { ServerDirectory } from "../discovery/directory.js";
import type { Logger } from "../log/logger.js";
import { identityKey, identityOf } from "../auth/request-grants.js";
import { errorResponse, ErrorCode, resultResponse, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse } from "../mcp/jsonrpc.js";
import { GATEWAY_INFO, Method, negotiateProtocolVersion, Notification } from "../mcp/protocol.js";
import type { GatewayMetrics } from "../metrics/metrics.js";
import type { GatewaySession } from "../session/session.js";
import type { SessionStore } from "../session/store.js";
import type { EventStream } from "../transport/event-stream.js";
import type { RequestChannel } from "../transport/post-responder.js";
import type { McpProtocolHandler } from "../transport/streamable-http.js";
import type { UpstreamConnector } from "../upstream/connector.js";
import { mergedCapabilities, mergedInstructions } from "./capabilities.js";
import type { MethodTable } from "./method-table.js";
import { SessionRuntime } from "./session-runtime.js";
import type { SessionUpstreamsOptions } from "./session-upstreams.js";

export interface SessionEraOptions extends SessionUpstreamsOptions {
  /** Largest initialize params (JSON bytes): they are kept for the session's life and sent to every upstream. */
  maxInitializeParamsBytes: number;
}

export class SessionEraBroker implements McpProtocolHandler<GatewaySession> {
  private readonly runtime: SessionRuntime;

  constructor(
    private readonly table: MethodTable,
    private readonly directory: ServerDirectory,
    sessions: SessionStore,
    connector: UpstreamConnector,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
    private readonly options: SessionEraOptions,
  ) {
    this.runtime = new SessionRuntime(sessions, directory, connector, log, options);
    directory.on("listChanged", (kinds) => this.runtime.relay.announce(kinds));
  }

  private get sessions(): SessionStore {
    return this.runtime.store;
  }

  /** Connects the session store (Redis, when shared) and starts expiring sessions and idle upstream sessions. */
  start(): Promise<void> {
    return this.runtime.start();
  }

  /** Shutdown; with a shared store the sessions live on for the other replicas. */
  closeAll(): Promise<void> {
    return this.runtime.closeAll();
  }

  async initialize(request: JsonRpcRequest, headers: IncomingHttpHeaders, client: string): Promise<{ session?: GatewaySession; response: JsonRpcResponse }> {
    const refused = (message: string) => {
      this.metrics.request(Method.Initialize, "error");
      return { response: errorResponse(request.id, ErrorCode.InvalidParams, message) };
    };
    // Kept for the session's life, written to Redis and sent to every upstream: the client must not decide their size.
    const size = Buffer.byteLength(JSON.stringify(request.params ?? {}));
    if (size > this.options.maxInitializeParamsBytes) return refused(`initialize params are ${size} bytes; at most ${this.options.maxInitializeParamsBytes} are accepted`);
    // The client's capabilities and clientInfo are handed to every upstream it reaches: they must be valid MCP.
    const parsed = InitializeRequestParamsSchema.safeParse(request.params ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return refused(`invalid initialize params: ${issue?.path.join(".") || "params"}: ${issue?.message ?? "invalid"}`);
    }
    const params = parsed.data;
    const session = await this.sessions.create(
      {
        protocolVersion: negotiateProtocolVersion(params.protocolVersion),
        clientInfo: { name: params.clientInfo.name, version: params.clientInfo.version },
        clientCapabilities: params.capabilities as Record<string, unknown>,
        owner: identityOf(headers),
      },
      client,
    );
    const catalog = this.directory.catalog;
    const result: Record<string, unknown> = { protocolVersion: session.protocolVersion, capabilities: mergedCapabilities(catalog), serverInfo: GATEWAY_INFO };
    const instructions = mergedInstructions(catalog);
    if (instructions) result.instructions = instructions;
    this.metrics.request(Method.Initialize, "ok");
    this.log.debug({ session: session.id, client: session.init.clientInfo, protocolVersion: session.protocolVersion }, "session opened");
    return { session, response: resultResponse(request.id, result) };
  }

  findSession(id: string, headers: IncomingHttpHeaders): GatewaySession | undefined | Promise<GatewaySession | undefined> {
    const found = this.sessions.get(id);
    const caller = identityKey(identityOf(headers));
    // Someone else's session is, to this caller, a session that does not exist.
    const owned = (session: GatewaySession | undefined) => (session && identityKey(session.init.owner) === caller ? session : undefined);
    return found instanceof Promise ? found.then(owned) : owned(found);
  }

  onRequest(session: GatewaySession, request: JsonRpcRequest, channel: RequestChannel, headers: IncomingHttpHeaders): void {
    if (request.method === Method.Initialize) {
      channel.respond(errorResponse(request.id, ErrorCode.InvalidRequest, "session is already initialized"));
      this.metrics.request(Method.Initialize, "error", 0);
      return;
    }
    this.table.serve({ session, request, channel, headers, runtime: this.runtime });
  }

  onNotification(session: GatewaySession, notification: JsonRpcNotification, headers: IncomingHttpHeaders): void {
    switch (notification.method) {
      case Notification.Initialized:
        // Nothing to do: the gateway serves a session from initialize on.
        return;
      case Notification.Cancelled:
        this.runtime.relay.clientCancelled(session, notification.params ?? {}, headers);
        return;
      case Notification.RootsListChanged:
        this.runtime.relay.rootsChanged(session, headers);
        return;
      default:
        this.log.debug({ session: session.id, method: notification.method }, "client notification ignored");
    }
  }

  onResponse(session: GatewaySession, response: JsonRpcResponse, headers: IncomingHttpHeaders): void {
    void this.runtime.relay.answerUpstream(session, response, headers);
  }

  openStream(session: GatewaySession, stream: EventStream): void {
    session.addStream(stream);
    stream.onClose(() => session.removeStream(stream));
  }

  terminate(session: GatewaySession, headers: IncomingHttpHeaders): Promise<void> {
    return this.runtime.end(session, headers);
  }
}
