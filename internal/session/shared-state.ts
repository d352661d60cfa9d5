// Session state shared by every broker replica through Redis, so any replica can serve any
// request of any session and a restarted broker loses none. Per session one hash holds what a
// replica needs to take the session over: the client's initialize, its log level and
// subscriptions, and the upstream session ids opened for it (so upstream sessions are reused,
// not reopened). A sorted set orders sessions by idle deadline so that exactly one replica
// claims each expired session and closes its upstream sessions. Every key has a TTL.
import { Redis } from "ioredis";
import type { UpstreamState } from "../upstream/session.js";
import { parseChannelEvent, type ChannelEvent } from "./channel-events.js";
import type { SessionInit } from "./session.js";

/** What a replica reads to serve a session it has not seen before. */
export interface StoredSession {
  init: SessionInit;
  expiresAt: number;
  logLevel?: string;
  /** Subscribed resource URI -> server name. */
  subscriptions: Map<string, string>;
  /** Server name -> the upstream session opened for this client there. */
  upstreams: Map<string, UpstreamState>;
}

const PREFIX = "mcp-gw:";
const EXPIRY_KEY = `${PREFIX}expiry`;
const EVENTS_CHANNEL = `${PREFIX}events`;
/** Session hashes outlive their idle deadline by this much, so the replica that claims an expired session can still read its upstream sessions. */
const CLAIM_GRACE_MS = 10 * 60_000;

const sessionKey = (id: string) => `${PREFIX}session:${id}`;
/** Held by the replica opening the session's upstream session for a server, so no other opens a second one. */
const openingKey = (id: string, server: string) => `${PREFIX}opening:${id}:${server}`;

// Sets a field only on a session that still exists: HSET on a removed (or expired) session would
// create a hash without a TTL that nobody ever deletes.
const SET_FIELD_SCRIPT = `if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end return 0`;

// Deletes an upstream field only if it still names the upstream session we closed: another
// replica may have recorded a newer one meanwhile.
const FORGET_UPSTREAM_SCRIPT = `if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0`;

// Releases an opening claim only if it is still ours: after its TTL another replica may hold it.
const RELEASE_CLAIM_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export interface RedisSessionStateOptions {
  url: string;
  /** Fails a command that takes longer, instead of holding a client request. */
  commandTimeoutMs: number;
}

export class RedisSessionState {
  readonly client: Redis;
  private readonly subscriber: Redis;
  /** Every part of the broker that listens on the events channel; one subscription serves them all. */
  private readonly listeners: Array<(event: ChannelEvent) => void> = [];
  private subscribed?: Promise<void>;

  constructor(readonly options: RedisSessionStateOptions) {
    // No offline queue: while Redis is away, commands fail at once and the broker answers from
    // what it holds, rather than stalling every request until the reconnect.
    const settings = { commandTimeout: options.commandTimeoutMs, enableOfflineQueue: false, maxRetriesPerRequest: 1 };
    this.client = new Redis(options.url, settings);
    this.subscriber = new Redis(options.url, { ...settings, enableOfflineQueue: true });
    // ioredis reports connection errors here and reconnects by itself; callers see failed commands.
    this.client.on("error", () => undefined);
    this.subscriber.on("error", () => undefined);
  }

  /** Waits up to timeoutMs for the first connection; false if Redis is not there yet (ioredis keeps trying). */
  async connected(timeoutMs: number): Promise<boolean> {
    if (this.client.status === "ready") return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.client.once("ready", () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Runs on every (re)connect: Redis may have come back empty. */
  onReconnect(listener: () => void): void {
    this.client.on("ready", listener);
  }

  async create(id: string, stored: StoredSession, deadline: number): Promise<void> {
    const fields: Record<string, string> = { init: JSON.stringify(stored.init), expiresAt: String(stored.expiresAt) };
    if (stored.logLevel) fields.logLevel = stored.logLevel;
    for (const [uri, server] of stored.subscriptions) fields[`sub:${uri}`] = server;
    for (const [server, state] of stored.upstreams) fields[`up:${server}`] = JSON.stringify(state);
    const ttl = deadline - Date.now() + CLAIM_GRACE_MS;
    await this.client.multi().hset(sessionKey(id), fields).pexpire(sessionKey(id), ttl).zadd(EXPIRY_KEY, deadline, id).pexpire(EXPIRY_KEY, ttl).exec();
  }

  async load(id: string): Promise<StoredSession | undefined> {
    return parseStored(await this.client.hgetall(sessionKey(id)));
  }

  /** Moves the session's idle deadline; only for sessions that still exist (XX). */
  async touch(id: string, deadline: number): Promise<void> {
    const ttl = deadline - Date.now() + CLAIM_GRACE_MS;
    await this.client.multi().zadd(EXPIRY_KEY, "XX", deadline, id).pexpire(sessionKey(id), ttl).pexpire(EXPIRY_KEY, ttl).exec();
  }

  async setField(id: string, field: string, value: string): Promise<void> {
    await this.client.eval(SET_FIELD_SCRIPT, 1, sessionKey(id), field, value);
  }

  async deleteField(id: string, field: string): Promise<void> {
    await this.client.hdel(sessionKey(id), field);
  }

  /** The upstream session recorded for the session and server, as another replica may have opened it since this one looked. */
  async upstream(id: string, server: string): Promise<UpstreamState | undefined> {
    const value = await this.client.hget(sessionKey(id), `up:${server}`);
    return value ? (JSON.parse(value) as UpstreamState) : undefined;
  }

  /** Claims the opening of the session's upstream session for a server, for ttlMs; false while another replica holds it. */
  async claimOpening(id: string, server: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.client.set(openingKey(id, server), token, "PX", ttlMs, "NX")) === "OK";
  }

  async releaseOpening(id: string, server: string, token: string): Promise<void> {
    await this.client.eval(RELEASE_CLAIM_SCRIPT, 1, openingKey(id, server), token);
  }

  async forgetUpstream(id: string, server: string, state: UpstreamState): Promise<void> {
    await this.client.eval(FORGET_UPSTREAM_SCRIPT, 1, sessionKey(id), `up:${server}`, JSON.stringify(state));
  }

  /** Removes the session; the caller closes what it held. Undefined when another replica got there first. */
  async remove(id: string): Promise<StoredSession | undefined> {
    const results = await this.client.multi().zrem(EXPIRY_KEY, id).hgetall(sessionKey(id)).del(sessionKey(id)).exec();
    const fields = results?.[1]?.[1] as Record<string, string> | undefined;
    return fields ? parseStored(fields) : undefined;
  }

  /** Claims up to `limit` sessions whose idle deadline passed; each is claimed by exactly one replica (ZREM decides). */
  async claimExpired(now: number, limit: number): Promise<Array<{ id: string; stored: StoredSession }>> {
    const due = await this.client.zrangebyscore(EXPIRY_KEY, "-inf", now, "LIMIT", 0, limit);
    const claimed: Array<{ id: string; stored: StoredSession }> = [];
    for (const id of due) {
      if ((await this.client.zrem(EXPIRY_KEY, id)) !== 1) continue;
      const stored = await this.remove(id);
      if (stored) claimed.push({ id, stored });
    }
    return claimed;
  }

  async publish(event: ChannelEvent): Promise<void> {
    await this.client.publish(EVENTS_CHANNEL, JSON.stringify(event));
  }

  /** Hands every valid event of the channel to `listener` (settles once subscribed). */
  subscribe(listener: (event: ChannelEvent) => void): Promise<void> {
    this.listeners.push(listener);
    this.subscribed ??= this.listen();
    return this.subscribed;
  }

  private async listen(): Promise<void> {
    this.subscriber.on("message", (channel: string, text: string) => {
      if (channel !== EVENTS_CHANNEL) return;
      // Only replicas publish here; what is not one of their events is not ours to act on.
      const event = parseChannelEvent(text);
      if (event) for (const listener of this.listeners) listener(event);
    });
    await this.subscriber.subscribe(EVENTS_CHANNEL);
  }

  close(): void {
    this.client.disconnect();
    this.subscriber.disconnect();
  }
}

function parseStored(fields: Record<string, string>): StoredSession | undefined {
  if (!fields.init) return undefined;
  const stored: StoredSession = { init: JSON.parse(fields.init) as SessionInit, expiresAt: Number(fields.expiresAt), subscriptions: new Map(), upstreams: new Map() };
  if (fields.logLevel) stored.logLevel = fields.logLevel;
  for (const [field, value] of Object.entries(fields)) {
    if (field.startsWith("sub:")) stored.subscriptions.set(field.slice(4), value);
    else if (field.startsWith("up:")) stored.upstreams.set(field.slice(3), JSON.parse(value) as UpstreamState);
  }
  return stored;
}
