// Gateway sessions the per-request era uses internally. A 2026-07-28 request has no session, but a
// session-era upstream needs one: requests of the same caller with the same client capabilities
// share one internal gateway session (and so its upstream sessions), which never leaves the
// process, is never shown to a client, and ends (with its upstream sessions) when idle.
import { createHash, randomBytes } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { identityKey, identityOf } from "../auth/request-grants.js";
import { LATEST_PROTOCOL_VERSION } from "../mcp/protocol.js";
import type { GatewaySession } from "../session/session.js";
import { SessionIdSigner } from "../session/session-id.js";
import { SESSION_KEY_BYTES } from "../contract/session-key.js";
import { SessionStore } from "../session/store.js";
import type { Logger } from "../log/logger.js";
import type { RequestMeta } from "../transport/per-request-http.js";

export interface CallerSessionsOptions {
  /** An internal session unused this long ends, closing its upstream sessions. */
  idleTimeoutMs: number;
  maxLifetimeMs: number;
  /** Internal sessions one caller may hold (one per distinct capability set); 0 = no limit. */
  maxSessionsPerCaller: number;
  log: Logger;
}

/** The clientInfo upstreams see when a request names none (it is a SHOULD in 2026-07-28). */
const UNNAMED_CLIENT = { name: "mcp-gateway-client", version: "0" };

/**
 * Who the caller is: the verified identity when clients authenticate; otherwise the hash of the
 * request's Authorization, so an upstream that takes the client's token never sees one caller's
 * session used with another caller's token.
 */
export function callerOf(headers: IncomingHttpHeaders): string {
  const identity = identityOf(headers);
  if (identity) return identityKey(identity);
  const authorization = headers.authorization;
  return authorization ? `token:${createHash("sha256").update(authorization).digest("base64url")}` : "";
}

export class CallerSessions {
  /** The local store the internal sessions live in: its own key, no Redis, its own expiry. */
  readonly store: SessionStore;
  private readonly byKey = new Map<string, string>();
  private readonly creating = new Map<string, Promise<GatewaySession>>();

  constructor(options: CallerSessionsOptions) {
    this.store = new SessionStore({
      idleTimeoutMs: options.idleTimeoutMs,
      maxLifetimeMs: options.maxLifetimeMs,
      signer: new SessionIdSigner({ current: randomBytes(SESSION_KEY_BYTES) }),
      maxSessionsPerClient: options.maxSessionsPerCaller,
      log: options.log,
    });
  }

  /** The internal session for this request's caller and capabilities; SessionQuotaError when the caller holds its quota. */
  sessionFor(headers: IncomingHttpHeaders, meta: RequestMeta): Promise<GatewaySession> {
    const caller = callerOf(headers);
    const key = `${caller}\n${JSON.stringify(meta.clientCapabilities)}`;
    const id = this.byKey.get(key);
    const existing = id === undefined ? undefined : this.store.get(id);
    // The store is local: get() answers at once.
    if (existing && !(existing instanceof Promise)) return Promise.resolve(existing);
    let pending = this.creating.get(key);
    if (!pending) {
      pending = this.create(key, caller, headers, meta).finally(() => this.creating.delete(key));
      this.creating.set(key, pending);
    }
    return pending;
  }

  private async create(key: string, caller: string, headers: IncomingHttpHeaders, meta: RequestMeta): Promise<GatewaySession> {
    this.forgetEnded();
    const session = await this.store.create(
      {
        protocolVersion: LATEST_PROTOCOL_VERSION,
        clientInfo: meta.clientInfo ? { name: meta.clientInfo.name, version: meta.clientInfo.version } : UNNAMED_CLIENT,
        clientCapabilities: meta.clientCapabilities,
        owner: identityOf(headers),
      },
      caller,
    );
    this.byKey.set(key, session.id);
    return session;
  }

  /** Keys of sessions the store has ended are dropped when new ones are made, so the map stays as large as the store. */
  private forgetEnded(): void {
    if (this.byKey.size <= this.store.size) return;
    // Not store.get(): that counts as use and would keep idle sessions alive.
    const live = new Set<string>();
    for (const session of this.store.all()) live.add(session.id);
    for (const [key, id] of this.byKey) if (!live.has(id)) this.byKey.delete(key);
  }
}
