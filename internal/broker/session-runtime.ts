// What serves the gateway sessions of one store, whichever front end made them: their upstream
// sessions, the relaying between them and their clients, and their life (expiry, ends decided on
// another replica, shutdown). The session era has one over the client-visible store; the
// per-request era one over its internal caller sessions.
import type { IncomingHttpHeaders } from "node:http";
import type { ServerDirectory } from "../discovery/directory.js";
import type { Logger } from "../log/logger.js";
import type { GatewaySession } from "../session/session.js";
import type { SessionStore } from "../session/store.js";
import type { UpstreamConnector } from "../upstream/connector.js";
import { Relay } from "./relay.js";
import { SessionUpstreams, type SessionUpstreamsOptions } from "./session-upstreams.js";

export class SessionRuntime {
  readonly upstreams: SessionUpstreams;
  readonly relay: Relay;

  constructor(
    readonly store: SessionStore,
    directory: ServerDirectory,
    connector: UpstreamConnector,
    log: Logger,
    options: SessionUpstreamsOptions,
  ) {
    this.upstreams = new SessionUpstreams(directory, store, connector, log, options, (session, server) => this.relay.fromUpstreamStream(session, server));
    this.relay = new Relay(directory, store, this.upstreams, log);
  }

  /** Connects the store (Redis, when shared) and starts expiring sessions and idle upstream sessions. */
  async start(): Promise<void> {
    await this.store.start({
      expired: (session) => void this.upstreams.close(session, "expired", true),
      closedElsewhere: (session) => void this.upstreams.close(session, "ended on another replica", false),
      cancelledElsewhere: (session, params) => this.relay.cancel(session, params),
      answeredElsewhere: (session, response) => void this.relay.answerHere(session, response, undefined),
    });
    this.upstreams.startSweeping();
  }

  /** The client ended the session: everywhere, with its upstream sessions. */
  async end(session: GatewaySession, headers: IncomingHttpHeaders): Promise<void> {
    await this.store.delete(session);
    await this.upstreams.close(session, "client ended the session", true, headers);
  }

  /**
   * Shutdown. Alone, the gateway ends its sessions; with a shared store they live on for the other
   * replicas (and this one after a restart), so only this process's streams and listeners go.
   */
  async closeAll(): Promise<void> {
    this.upstreams.stopSweeping();
    this.store.stop();
    const sessions = this.store.detachAll();
    if (this.store.shared) {
      for (const session of sessions) session.detach();
      return;
    }
    await Promise.all(sessions.map((session) => this.upstreams.close(session, "gateway shutting down", true)));
  }
}
