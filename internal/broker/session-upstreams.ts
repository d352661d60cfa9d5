// The upstream sessions gateway sessions of one store hold: opened on first use (or taken over
// from the replica that opened one), given the log level and subscriptions the client set, their
// GET streams held open (for resource updates once the client subscribes, and from the start for
// a client that can answer an upstream's requests), closed when idle, when their server is
// replaced and when the gateway session ends.
import type { IncomingHttpHeaders } from "node:http";
import type { RegistryServer } from "../contract/registry.js";
import type { ServerDirectory } from "../discovery/directory.js";
import type { Logger } from "../log/logger.js";
import { answersUpstreamRequests } from "../mcp/capabilities.js";
import type { JsonRpcMessage } from "../mcp/jsonrpc.js";
import { Method } from "../mcp/protocol.js";
import type { GatewaySession } from "../session/session.js";
import type { SessionStore, UpstreamOpening } from "../session/store.js";
import { upstreamTarget, type UpstreamConnector } from "../upstream/connector.js";
import { holdUpstreamStream } from "../upstream/held-stream.js";
import { UpstreamSession, type InitializeResult, type SendDuringHandshake, type UpstreamState } from "../upstream/session.js";
import { clientToken } from "./client-token.js";

export interface SessionUpstreamsOptions {
  /** Longest time a handshake (or waiting for another replica's) may take. */
  requestTimeoutMs: number;
  /** Upstream sessions unused this long are closed (reopened on next use); 0 = never. */
  upstreamIdleTimeoutMs: number;
}

/** Where what an upstream session sends on its GET stream goes (Relay.fromUpstreamStream). */
export type StreamMessages = (session: GatewaySession, server: string) => (upstream: UpstreamSession) => (message: JsonRpcMessage) => void;

export class SessionUpstreams {
  private sweeper?: NodeJS.Timeout;

  constructor(
    private readonly directory: ServerDirectory,
    private readonly store: SessionStore,
    private readonly connector: UpstreamConnector,
    private readonly log: Logger,
    private readonly options: SessionUpstreamsOptions,
    private readonly streamMessages: StreamMessages,
  ) {
    directory.on("serversReplaced", (names) => this.drop(names));
  }

  startSweeping(): void {
    const idleMs = this.options.upstreamIdleTimeoutMs;
    if (idleMs <= 0) return;
    this.sweeper = setInterval(() => this.closeIdle(Date.now() - idleMs), Math.min(60_000, Math.max(1_000, idleMs / 4)));
    this.sweeper.unref();
  }

  stopSweeping(): void {
    clearInterval(this.sweeper);
  }

  /** The session's upstream session for a server: opened on first use (or taken over from the replica that opened it), shared after. */
  upstreamFor(session: GatewaySession, server: RegistryServer, headers: IncomingHttpHeaders): Promise<UpstreamSession> {
    const existing = session.upstream(server.name);
    if (existing) return existing;
    const pending = this.open(session, server, clientToken(server, headers));
    session.keepUpstream(server.name, pending);
    return pending;
  }

  /** Each upstream session the session holds that opened, with the token the request brings for its server. */
  async forEach(session: GatewaySession, headers: IncomingHttpHeaders, use: (upstream: UpstreamSession, authorization: string | undefined) => Promise<unknown>): Promise<void> {
    await Promise.all(
      session.openUpstreams().map(async ([name, pending]) => {
        const upstream = await pending.catch(() => undefined);
        if (upstream) await use(upstream, clientToken(this.directory.server(name), headers)).catch(() => undefined);
      }),
    );
  }

  /** Holds the upstream session's GET stream open (for resources/updated once the client subscribed); settles once it is open. */
  async listen(session: GatewaySession, server: RegistryServer, headers: IncomingHttpHeaders): Promise<void> {
    if (session.isListening(server.name)) return;
    const upstream = await this.upstreamFor(session, server, headers);
    await this.hold(session, server.name, upstream, clientToken(server, headers));
  }

  /** The stream lives as long as the session holds this upstream session (GatewaySession.releaseUpstream stops it). */
  private hold(session: GatewaySession, server: string, upstream: UpstreamSession, authorization: string | undefined): Promise<void> {
    const controller = session.startListening(server);
    if (!controller) return Promise.resolve();
    const stream = holdUpstreamStream(upstream, this.streamMessages(session, server)(upstream), controller.signal, { authorization });
    void stream.ended.finally(() => session.stopListening(server, controller));
    return stream.opened;
  }

  /**
   * Ends the session's upstream sessions: the ones this replica opened or took over and, when
   * `recorded` is set (the session ended for good), those the shared store names that nobody here used.
   */
  async close(session: GatewaySession, reason: string, recorded: boolean, headers?: IncomingHttpHeaders): Promise<void> {
    this.log.debug({ session: session.id, reason }, "session closed");
    session.detach();
    const opened = await Promise.all(session.takeUpstreams().map(async ([name, pending]) => ({ name, upstream: await pending.catch(() => undefined) })));
    const closing: Array<{ name: string; upstream: UpstreamSession }> = [];
    for (const { name, upstream } of opened) if (upstream) closing.push({ name, upstream });
    if (recorded) {
      const open = new Set(closing.map(({ upstream }) => upstream.sessionId));
      for (const [name, state] of session.recordedUpstreams()) {
        const server = this.directory.server(name);
        if (server && !open.has(state.sessionId)) closing.push({ name, upstream: this.upstreamSession(session, server, state) });
      }
    }
    // Ended by its client, the DELETE's token ends the upstream sessions; by expiry there is no token to send.
    await Promise.all(closing.map(({ name, upstream }) => upstream.close(headers && clientToken(this.directory.server(name), headers)).catch(() => undefined)));
  }

  /** Takes over the upstream session recorded for the session (by this or another replica), else opens one, one replica at a time. */
  private async open(session: GatewaySession, server: RegistryServer, authorization: string | undefined): Promise<UpstreamSession> {
    const recorded = session.recordedUpstream(server.name);
    const opening: UpstreamOpening = recorded ? { adopt: recorded } : await this.store.beginOpening(session, server.name, this.options.requestTimeoutMs);
    const upstream = this.upstreamSession(session, server, "adopt" in opening ? opening.adopt : undefined);
    try {
      await upstream.ensureInitialized(this.options.requestTimeoutMs, authorization);
      // Listening before the first call goes out: a request the upstream sends outside the call
      // (on its GET stream) would otherwise be dropped. Clients that cannot answer one pay nothing.
      if (answersUpstreamRequests(session.init.clientCapabilities)) await this.hold(session, server.name, upstream, authorization);
      return upstream;
    } finally {
      if ("release" in opening) opening.release();
    }
  }

  private upstreamSession(session: GatewaySession, server: RegistryServer, adopt?: UpstreamState): UpstreamSession {
    // A client's token is never stored here: each request brings its own (clientToken).
    const headers: Record<string, string> = {};
    if (server.credential) headers.authorization = server.credential;
    return new UpstreamSession(this.connector, {
      target: upstreamTarget(server, headers),
      protocolVersion: session.protocolVersion,
      clientInfo: session.init.clientInfo,
      capabilities: session.init.clientCapabilities,
      afterInitialize: (send, result) => this.restoreSessionState(session, server, send, result),
      onOpened: (state) => this.store.recordUpstream(session, server.name, state),
      adopt,
    });
  }

  /** A new (or re-opened) upstream session gets the log level and subscriptions the client set. */
  private async restoreSessionState(session: GatewaySession, server: RegistryServer, send: SendDuringHandshake, result: InitializeResult): Promise<void> {
    if (session.logLevel && result.capabilities.logging) await send(Method.LoggingSetLevel, { level: session.logLevel }).catch(() => undefined);
    for (const [uri, owner] of session.subscriptions()) {
      if (owner === server.name) await send(Method.ResourcesSubscribe, { uri }).catch(() => undefined);
    }
  }

  private drop(serverNames: string[]): void {
    for (const session of this.store.all()) {
      for (const name of serverNames) {
        const pending = session.upstream(name);
        session.forgetRecordedUpstream(name);
        if (!pending) continue;
        session.releaseUpstream(name);
        pending.then((upstream) => upstream.close()).catch(() => undefined);
      }
    }
  }

  /** Upstream sessions unused since `cutoff` (and not carrying a subscription's updates) are closed; the next call opens a new one. */
  private closeIdle(cutoff: number): void {
    for (const session of this.store.all()) {
      for (const [name, pending] of session.openUpstreams()) {
        if (session.subscribesAt(name)) continue;
        void pending.then((upstream) => {
          if (upstream.pending > 0 || upstream.lastUsed >= cutoff || !session.releaseUpstream(name, pending)) return;
          const state = upstream.state();
          if (state) this.store.forgetUpstream(session, name, state);
          this.log.debug({ session: session.id, server: name }, "idle upstream session closed");
          return upstream.close();
        }, () => undefined);
      }
    }
  }
}
