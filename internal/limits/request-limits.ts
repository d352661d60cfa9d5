// What the Streamable HTTP transport asks before serving a request on /mcp: is the client within
// its request rate, is the session within its own, may the session open one more stream. A
// refusal says why and when to try again (HTTP 429 with Retry-After). Limits hold per replica.
import type { IncomingMessage, ServerResponse } from "node:http";
import { subjectOf } from "../auth/request-grants.js";
import { RateLimiter, type RateLimit } from "./rate-limiter.js";
import { StreamLimiter } from "./stream-limiter.js";

export interface LimitSettings {
  /** Requests of one client (token subject, else remote address); absent = unlimited. */
  client?: RateLimit;
  /** Requests carrying one mcp-session-id; absent = unlimited. */
  session?: RateLimit;
  /** Open GET streams plus POSTs in flight per session; 0 = unlimited. */
  maxStreamsPerSession: number;
}

export interface LimitRefusal {
  /** Which limit: the client's request rate, the session's, or the session's open streams. */
  limit: "client" | "session" | "streams";
  message: string;
  /** Whole seconds, at least 1 (Retry-After). */
  retryAfterSeconds: number;
}

export class RequestLimits {
  private readonly clients?: RateLimiter;
  private readonly sessions?: RateLimiter;
  private readonly streams?: StreamLimiter;

  constructor(settings: LimitSettings) {
    if (settings.client) this.clients = new RateLimiter(settings.client);
    if (settings.session) this.sessions = new RateLimiter(settings.session);
    if (settings.maxStreamsPerSession > 0) this.streams = new StreamLimiter(settings.maxStreamsPerSession);
  }

  /** Every request, initialize included, so that one client cannot flood the gateway with sessions. */
  admitClient(req: IncomingMessage): LimitRefusal | undefined {
    if (!this.clients) return undefined;
    const subject = subjectOf(req.headers);
    // Prefixed so that a subject can never share a bucket with an address.
    return admit(this.clients, subject === undefined ? `address:${req.socket.remoteAddress ?? ""}` : `subject:${subject}`, "client");
  }

  admitSession(sessionId: string): LimitRefusal | undefined {
    return this.sessions && admit(this.sessions, sessionId, "session");
  }

  /** Counts res as an open stream of the session until it closes, however it closes. */
  openStream(sessionId: string, res: ServerResponse): LimitRefusal | undefined {
    if (!this.streams) return undefined;
    const release = this.streams.acquire(sessionId);
    if (!release) return { limit: "streams", message: `Too Many Requests: the session already has ${this.streams.maxPerKey} streams or requests open`, retryAfterSeconds: 1 };
    // The client may have gone while the request was read or the session looked up: no close event will follow then.
    if (res.closed) release();
    else res.once("close", release);
    return undefined;
  }
}

function admit(limiter: RateLimiter, key: string, who: "client" | "session"): LimitRefusal | undefined {
  const waitSeconds = limiter.take(key);
  if (waitSeconds === 0) return undefined;
  return {
    limit: who,
    message: `Too Many Requests: ${who} rate limit of ${limiter.limit.perSecond} requests per second (burst ${limiter.limit.burst}) exceeded`,
    retryAfterSeconds: Math.max(1, Math.ceil(waitSeconds)),
  };
}
