// What the Streamable HTTP transport asks before serving a request on /mcp: is the client within
// its request rate (and its initialize rate), is the session within its own, may the session open
// more streams. A POST carrying a batch is charged one token and one slot per request in it, so a
// batch never buys more than the same requests sent one by one. A refusal says why and when to try
// again (HTTP 429 with Retry-After). Limits hold per replica.
import type { IncomingMessage, ServerResponse } from "node:http";
import { identityKey, identityOf } from "../auth/request-grants.js";
import { RateLimiter, type RateLimit } from "./rate-limiter.js";
import { StreamLimiter } from "./stream-limiter.js";

export interface LimitSettings {
  /** Requests of one client (token identity, else remote address); absent = unlimited. */
  client?: RateLimit;
  /** initialize requests of one client, on top of `client`: sessions are the costly thing to make. */
  initialize?: RateLimit;
  /** Requests carrying one mcp-session-id; absent = unlimited. */
  session?: RateLimit;
  /** Open GET streams plus requests in flight per session; 0 = unlimited. */
  maxStreamsPerSession: number;
}

export interface LimitRefusal {
  /** Which limit: the client's request or initialize rate, the session's, or the session's open streams. */
  limit: "client" | "initialize" | "session" | "streams";
  message: string;
  /** Whole seconds, at least 1 (Retry-After). */
  retryAfterSeconds: number;
}

/** The key limits count a client by: its verified identity, else its address (prefixed so the two never share a bucket). */
export function clientKey(req: IncomingMessage): string {
  const identity = identityOf(req.headers);
  return identity ? `identity:${identityKey(identity)}` : `address:${req.socket.remoteAddress ?? ""}`;
}

export class RequestLimits {
  private readonly clients?: RateLimiter;
  private readonly initializes?: RateLimiter;
  private readonly sessions?: RateLimiter;
  private readonly streams?: StreamLimiter;

  constructor(settings: LimitSettings) {
    if (settings.client) this.clients = new RateLimiter(settings.client);
    if (settings.initialize) this.initializes = new RateLimiter(settings.initialize);
    if (settings.session) this.sessions = new RateLimiter(settings.session);
    if (settings.maxStreamsPerSession > 0) this.streams = new StreamLimiter(settings.maxStreamsPerSession);
  }

  /** Every request, initialize included, so that one client cannot flood the gateway; `count` requests at once (a batch). */
  admitClient(req: IncomingMessage, count = 1): LimitRefusal | undefined {
    return this.clients && admit(this.clients, clientKey(req), "client", count);
  }

  admitInitialize(req: IncomingMessage): LimitRefusal | undefined {
    return this.initializes && admit(this.initializes, clientKey(req), "initialize", 1);
  }

  admitSession(sessionId: string, count = 1): LimitRefusal | undefined {
    return this.sessions && admit(this.sessions, sessionId, "session", count);
  }

  /** Counts res as `count` open streams of the session (a GET, or a POST's requests) until it closes, however it closes. */
  openStream(sessionId: string, res: ServerResponse, count = 1): LimitRefusal | undefined {
    if (!this.streams) return undefined;
    const release = this.streams.acquire(sessionId, count);
    if (!release) return { limit: "streams", message: count === 1 ? `Too Many Requests: the session already has ${this.streams.maxPerKey} streams or requests open` : `Too Many Requests: a batch of ${count} requests does not fit in the session's ${this.streams.maxPerKey} streams or requests`, retryAfterSeconds: 1 };
    // The client may have gone while the request was read or the session looked up: no close event will follow then.
    if (res.closed) release();
    else res.once("close", release);
    return undefined;
  }
}

const NAMES = { client: "client rate limit", initialize: "initialize rate limit", session: "session rate limit" } as const;

function admit(limiter: RateLimiter, key: string, limit: "client" | "initialize" | "session", count: number): LimitRefusal | undefined {
  const waitSeconds = limiter.take(key, count);
  if (waitSeconds === 0) return undefined;
  if (!Number.isFinite(waitSeconds)) {
    return { limit, message: `Too Many Requests: a batch of ${count} requests is more than the ${NAMES[limit]}'s burst of ${limiter.limit.burst}; send fewer at once`, retryAfterSeconds: 1 };
  }
  return {
    limit,
    message: `Too Many Requests: ${NAMES[limit]} of ${limiter.limit.perSecond} requests per second (burst ${limiter.limit.burst}) exceeded`,
    retryAfterSeconds: Math.max(1, Math.ceil(waitSeconds)),
  };
}
