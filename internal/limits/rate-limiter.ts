// Token buckets by key (a client, a session): each key may send `perSecond` requests a second on
// average and `burst` at once. Memory stays bounded: buckets are kept least recently used first,
// a full bucket (one idle long enough to refill) is dropped since a new one would be the same,
// and past `maxKeys` the least recently used goes, which only makes that key's limit lenient.

export interface RateLimit {
  /** Tokens added per second; a request takes one. */
  perSecond: number;
  /** Bucket size: requests allowed at once after a quiet period. */
  burst: number;
}

interface Bucket {
  tokens: number;
  /** performance.now() when tokens was computed. */
  at: number;
}

/** Enough for every client of a busy gateway; a bucket costs about 100 bytes plus its key. */
const DEFAULT_MAX_KEYS = 100_000;
/** Idle buckets dropped per take(): more than one, so eviction outpaces a stream of new keys. */
const EVICTIONS_PER_TAKE = 2;

export class RateLimiter {
  /** Least recently used first: Map keeps insertion order and take() re-inserts. */
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly limit: RateLimit,
    private readonly maxKeys = DEFAULT_MAX_KEYS,
  ) {
    if (!(limit.perSecond > 0) || !(limit.burst >= 1)) throw new Error(`invalid rate limit: ${limit.perSecond}/s, burst ${limit.burst}`);
  }

  /** Buckets held now. */
  get size(): number {
    return this.buckets.size;
  }

  /**
   * Takes `count` tokens for key, all or none: 0 when the requests may go, else the seconds until
   * enough tokens will be there (Infinity when count is more than the bucket holds).
   */
  take(key: string, count = 1): number {
    const now = performance.now();
    const bucket = this.buckets.get(key);
    const tokens = bucket ? this.refilled(bucket, now) : this.limit.burst;
    const allowed = tokens >= count;
    const left = allowed ? tokens - count : tokens;
    if (bucket) this.buckets.delete(key);
    this.buckets.set(key, { tokens: left, at: now });
    this.evict(now);
    if (allowed) return 0;
    return count > this.limit.burst ? Infinity : (count - left) / this.limit.perSecond;
  }

  private refilled(bucket: Bucket, now: number): number {
    return Math.min(this.limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.limit.perSecond);
  }

  private evict(now: number): void {
    if (this.buckets.size > this.maxKeys) {
      const oldest = this.buckets.keys().next().value as string;
      this.buckets.delete(oldest);
    }
    let checked = 0;
    for (const [key, bucket] of this.buckets) {
      if (checked++ === EVICTIONS_PER_TAKE || this.refilled(bucket, now) < this.limit.burst) return;
      this.buckets.delete(key);
    }
  }
}
