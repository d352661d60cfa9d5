// Live gateway sessions, in memory, with idle expiry so clients that never send DELETE cannot
// grow the broker without bound.
import { randomBytes } from "node:crypto";
import { GatewaySession, type SessionInit } from "./session.js";

export class SessionStore {
  private readonly sessions = new Map<string, GatewaySession>();
  private sweeper?: NodeJS.Timeout;

  constructor(private readonly idleTimeoutMs: number) {}

  create(init: SessionInit): GatewaySession {
    // 144 random bits: unguessable, so a session id is as good as a bearer token for its session.
    const id = randomBytes(18).toString("base64url");
    const session = new GatewaySession(id, init);
    this.sessions.set(id, session);
    return session;
  }

  get(id: string): GatewaySession | undefined {
    const session = this.sessions.get(id);
    if (session) session.lastSeen = Date.now();
    return session;
  }

  delete(id: string): GatewaySession | undefined {
    const session = this.sessions.get(id);
    this.sessions.delete(id);
    return session;
  }

  get size(): number {
    return this.sessions.size;
  }

  all(): IterableIterator<GatewaySession> {
    return this.sessions.values();
  }

  /** Calls onExpired for sessions idle longer than the timeout (sessions with an open stream are not idle). */
  startSweeping(onExpired: (session: GatewaySession) => void): void {
    const interval = Math.min(60_000, Math.max(1_000, this.idleTimeoutMs / 4));
    this.sweeper = setInterval(() => {
      const cutoff = Date.now() - this.idleTimeoutMs;
      for (const session of this.sessions.values()) {
        if (session.lastSeen < cutoff && session.streams.size === 0) {
          this.sessions.delete(session.id);
          onExpired(session);
        }
      }
    }, interval);
    this.sweeper.unref();
  }

  stopSweeping(): void {
    clearInterval(this.sweeper);
  }
}
