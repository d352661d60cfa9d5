// Live gateway sessions: signed ids, idle and lifetime expiry, and (with Redis) state shared by
// every replica. Each replica keeps the sessions it serves in memory; the shared store is the
// truth it falls back to for sessions it has not seen, and the place that decides expiry.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../log/logger.js";
import { SessionQuota } from "../limits/session-quota.js";
import type { JsonRpcMessage, JsonRpcResponse } from "../mcp/jsonrpc.js";
import type { UpstreamState } from "../upstream/session.js";
import { isSessionEvent } from "./channel-events.js";
import { GatewaySession, type SessionInit } from "./session.js";
import type { SessionIdSigner } from "./session-id.js";
import type { RedisSessionState, StoredSession } from "./shared-state.js";

export interface SessionStoreOptions {
  idleTimeoutMs: number;
  /** Longest life of a session however active; carried (signed) in its id. */
  maxLifetimeMs: number;
  signer: SessionIdSigner;
  /** Sessions one client may hold on this replica; 0 = no limit. */
  maxSessionsPerClient: number;
  /** Absent: sessions live in this process only. */
  shared?: RedisSessionState;
  log: Logger;
}

export interface SessionLifecycle {
  /** The session ended by expiry: close what it holds, including `recorded` upstream sessions. */
  expired(session: GatewaySession): void;
  /** Another replica ended the session: drop what this replica holds for it. */
  closedElsewhere(session: GatewaySession): void;
  /** A client cancelled a request on another replica: stop it if it runs here. */
  cancelledElsewhere(session: GatewaySession, params: Record<string, unknown>): void;
  /** A client answered, on another replica, a request it was sent: take it if a call here asked it. */
  answeredElsewhere(session: GatewaySession, response: JsonRpcResponse): void;
}

/** Claimed per sweep, so one sweep stays short even after a long outage. */
const CLAIM_BATCH = 500;
/** How often a replica waiting for another to open an upstream session looks whether it is done. */
const OPENING_POLL_MS = 25;

/** What a replica does about a session's missing upstream session for a server. */
export type UpstreamOpening = { adopt: UpstreamState } | { open: true; release: () => void };

export class SessionStore {
  private readonly sessions = new Map<string, GatewaySession>();
  private readonly loading = new Map<string, Promise<GatewaySession | undefined>>();
  private readonly touchEveryMs: number;
  private sweeper?: NodeJS.Timeout;
  private lastStoreWarning = 0;
  private readonly quota: SessionQuota;

  constructor(private readonly options: SessionStoreOptions) {
    this.touchEveryMs = Math.min(30_000, Math.max(1_000, options.idleTimeoutMs / 10));
    this.quota = new SessionQuota(options.maxSessionsPerClient);
  }

  get shared(): boolean {
    return this.options.shared !== undefined;
  }

  /** A new session for `client` (the key limits count it by); SessionQuotaError when that client holds its quota. */
  async create(init: SessionInit, client: string): Promise<GatewaySession> {
    this.quota.take(client);
    const { id, expiresAt } = this.options.signer.issue(this.options.maxLifetimeMs);
    const session = new GatewaySession(id, init, expiresAt);
    session.quotaKey = client;
    session.verifiedGeneration = this.options.signer.generation;
    try {
      // Stored before the id is handed out: the client's next request may reach another replica.
      await this.options.shared?.create(id, storedOf(session), this.deadline(session));
    } catch (err) {
      this.quota.release(client);
      throw err;
    }
    this.sessions.set(id, session);
    return session;
  }

  /**
   * The session for a client's id: undefined when forged, expired or unknown. An id this replica
   * holds was verified when it was issued or loaded: it is verified again only after the accepted
   * keys changed, so the HMAC is paid once per session, not per request.
   */
  get(id: string): GatewaySession | undefined | Promise<GatewaySession | undefined> {
    const signer = this.options.signer;
    const held = this.sessions.get(id);
    if (held && held.verifiedGeneration === signer.generation && held.expiresAt > Date.now()) return this.seen(held);
    const check = signer.check(id);
    if (!check.valid) {
      this.options.log.debug({ reason: check.reason }, "session id refused");
      return undefined;
    }
    if (held) {
      held.verifiedGeneration = signer.generation;
      return this.seen(held);
    }
    if (!this.options.shared) return undefined;
    let pending = this.loading.get(id);
    if (!pending) {
      pending = this.load(id, check.expiresAt).finally(() => this.loading.delete(id));
      this.loading.set(id, pending);
    }
    return pending;
  }

  private seen(session: GatewaySession): GatewaySession {
    session.lastSeen = Date.now();
    if (this.options.shared && session.lastSeen - session.lastTouched > this.touchEveryMs) this.touch(session);
    return session;
  }

  /** Ends the session everywhere; the caller closes what it holds (recordedUpstreams is brought up to date first). */
  async delete(session: GatewaySession): Promise<void> {
    this.forget(session);
    const shared = this.options.shared;
    if (!shared) return;
    const stored = await shared.remove(session.id);
    for (const [server, state] of stored?.upstreams ?? []) session.recordUpstream(server, state);
    await shared.publish({ type: "closed", session: session.id });
  }

  /** Forgets every local session without ending it: the shared store keeps them for the other replicas (shutdown). */
  detachAll(): GatewaySession[] {
    const sessions = [...this.sessions.values()];
    for (const session of sessions) this.forget(session);
    return sessions;
  }

  get size(): number {
    return this.sessions.size;
  }

  all(): IterableIterator<GatewaySession> {
    return this.sessions.values();
  }

  /** Records an upstream session opened (or re-opened) for the session, so other replicas reuse it. */
  recordUpstream(session: GatewaySession, server: string, state: UpstreamState): void {
    // Alone, a broker holds every upstream session it opened: nothing to record.
    if (!this.options.shared) return;
    session.recordUpstream(server, state);
    this.write(this.options.shared.setField(session.id, `up:${server}`, JSON.stringify(state)));
  }

  /**
   * Before opening an upstream session for a server: with Redis, another replica may have opened
   * one since this replica took the session up, or be opening one right now. Then that one is
   * adopted (waiting up to timeoutMs for it); else this replica claims the opening, and releases
   * the claim once it has recorded (or failed to open) its own. Redis failing means opening one.
   */
  async beginOpening(session: GatewaySession, server: string, timeoutMs: number): Promise<UpstreamOpening> {
    const shared = this.options.shared;
    const alone: UpstreamOpening = { open: true, release: () => undefined };
    if (!shared) return alone;
    const token = randomUUID();
    const deadline = Date.now() + timeoutMs;
    const adopt = (state: UpstreamState): UpstreamOpening => {
      session.recordUpstream(server, state);
      return { adopt: state };
    };
    try {
      for (;;) {
        const recorded = await shared.upstream(session.id, server);
        if (recorded) return adopt(recorded);
        if (await shared.claimOpening(session.id, server, token, timeoutMs)) {
          const release = () => this.write(shared.releaseOpening(session.id, server, token));
          // Recorded between our look and our claim: the other replica has just finished.
          const late = await shared.upstream(session.id, server);
          if (!late) return { open: true, release };
          release();
          return adopt(late);
        }
        if (Date.now() >= deadline) return alone;
        await sleep(OPENING_POLL_MS);
      }
    } catch (err) {
      this.warn(err);
      return alone;
    }
  }

  forgetUpstream(session: GatewaySession, server: string, state: UpstreamState): void {
    if (!this.options.shared) return;
    session.forgetRecordedUpstream(server, state);
    this.write(this.options.shared.forgetUpstream(session.id, server, state));
  }

  recordLogLevel(session: GatewaySession): void {
    if (session.logLevel) this.write(this.options.shared?.setField(session.id, "logLevel", session.logLevel));
  }

  recordSubscription(session: GatewaySession, uri: string): void {
    const server = session.subscriptions().get(uri);
    this.write(server === undefined ? this.options.shared?.deleteField(session.id, `sub:${uri}`) : this.options.shared?.setField(session.id, `sub:${uri}`, server));
  }

  /** Hands a message to the replica holding a stream of the session (this one holds none). */
  deliverElsewhere(session: GatewaySession, message: JsonRpcMessage): boolean {
    if (!this.options.shared) return false;
    this.write(this.options.shared.publish({ type: "deliver", session: session.id, message }));
    return true;
  }

  /** Hands a client's cancellation to the replica running the request (this one does not run it). */
  cancelElsewhere(session: GatewaySession, params: Record<string, unknown>): void {
    if (this.options.shared) this.write(this.options.shared.publish({ type: "cancel", session: session.id, params }));
  }

  /** Hands a client's answer to the replica whose call asked the request (this one did not); false without Redis. */
  answerElsewhere(session: GatewaySession, response: JsonRpcResponse): boolean {
    if (!this.options.shared) return false;
    this.write(this.options.shared.publish({ type: "answer", session: session.id, response }));
    return true;
  }

  async start(lifecycle: SessionLifecycle): Promise<void> {
    const shared = this.options.shared;
    if (shared) {
      if (!(await shared.connected(5_000))) this.options.log.warn("Redis not reachable yet; new sessions are refused until it is");
      // Not awaited: the subscription completes (and is renewed) whenever Redis is there.
      const subscribed = shared.subscribe((event) => {
        if (!isSessionEvent(event)) return;
        const session = this.sessions.get(event.session);
        if (!session) return;
        if (event.type === "deliver") {
          session.notify(event.message);
        } else if (event.type === "cancel") {
          lifecycle.cancelledElsewhere(session, event.params);
        } else if (event.type === "answer") {
          lifecycle.answeredElsewhere(session, event.response);
        } else {
          this.forget(session);
          lifecycle.closedElsewhere(session);
        }
      });
      this.write(subscribed);
      // Redis came back, maybe empty: what this replica holds goes back in, so no session is lost.
      shared.onReconnect(() => {
        for (const session of this.sessions.values()) this.write(shared.create(session.id, storedOf(session), this.deadline(session)));
      });
    }
    const interval = Math.min(60_000, Math.max(1_000, Math.min(this.options.idleTimeoutMs, this.options.maxLifetimeMs) / 4));
    this.sweeper = setInterval(() => void this.sweep(lifecycle), interval);
    this.sweeper.unref();
  }

  stop(): void {
    clearInterval(this.sweeper);
    this.options.shared?.close();
  }

  private async sweep(lifecycle: SessionLifecycle): Promise<void> {
    const now = Date.now();
    const shared = this.options.shared;
    for (const session of this.sessions.values()) {
      const idle = session.lastSeen < now - this.options.idleTimeoutMs && !session.hasStreams;
      if (idle || session.expiresAt <= now) {
        if (!shared) {
          this.forget(session);
          lifecycle.expired(session);
        } else if (session.subscriptions().size === 0) {
          // The session may be in use on another replica: only this replica's copy goes (with the
          // upstream GET streams it holds), the store decides expiry (below). A copy that carries
          // resource updates stays until then.
          this.forget(session);
          session.detach();
        }
      } else if (shared && session.hasStreams) {
        // An open stream is activity, though no request comes in.
        session.lastSeen = now;
        this.touch(session);
      }
    }
    if (!shared) return;
    try {
      for (const { id, stored } of await shared.claimExpired(now, CLAIM_BATCH)) {
        const session = this.sessions.get(id) ?? revive(id, stored);
        this.forget(session);
        for (const [server, state] of stored.upstreams) session.recordUpstream(server, state);
        lifecycle.expired(session);
        this.write(shared.publish({ type: "closed", session: id }));
      }
    } catch (err) {
      this.warn(err);
    }
  }

  private async load(id: string, expiresAt: number): Promise<GatewaySession | undefined> {
    const stored = await this.options.shared?.load(id);
    if (!stored) return undefined;
    const session = this.sessions.get(id) ?? revive(id, { ...stored, expiresAt });
    session.verifiedGeneration = this.options.signer.generation;
    this.sessions.set(id, session);
    this.touch(session);
    return session;
  }

  /** The session leaves this replica's memory (ended, or left to the shared store), and its client's quota. */
  private forget(session: GatewaySession): void {
    if (this.sessions.get(session.id) === session) this.sessions.delete(session.id);
    if (session.quotaKey === undefined) return;
    this.quota.release(session.quotaKey);
    session.quotaKey = undefined;
  }

  private deadline(session: GatewaySession): number {
    return Math.min(session.lastSeen + this.options.idleTimeoutMs, session.expiresAt);
  }

  private touch(session: GatewaySession): void {
    session.lastTouched = Date.now();
    this.write(this.options.shared?.touch(session.id, this.deadline(session)));
  }

  /** Writes to the shared store are best effort: a Redis outage must not fail requests this replica can serve. */
  private write(pending: Promise<unknown> | undefined): void {
    pending?.catch((err: unknown) => this.warn(err));
  }

  private warn(err: unknown): void {
    const now = Date.now();
    if (now - this.lastStoreWarning < 10_000) return;
    this.lastStoreWarning = now;
    this.options.log.warn({ err: (err as Error).message }, "shared session store unavailable; serving the sessions this replica holds");
  }
}

function storedOf(session: GatewaySession): StoredSession {
  return { init: session.init, expiresAt: session.expiresAt, logLevel: session.logLevel, subscriptions: new Map(session.subscriptions()), upstreams: new Map(session.recordedUpstreams()) };
}

function revive(id: string, stored: StoredSession): GatewaySession {
  const session = new GatewaySession(id, stored.init, stored.expiresAt);
  session.setLogLevel(stored.logLevel);
  for (const [uri, server] of stored.subscriptions) session.subscribe(uri, server);
  for (const [server, state] of stored.upstreams) session.recordUpstream(server, state);
  return session;
}
