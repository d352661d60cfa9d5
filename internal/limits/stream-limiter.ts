// Open streams per key (a session): GET streams and POSTs whose answer is still in flight. Each
// costs a socket and buffers here and upstream, so one session cannot hold an unbounded number.

export class StreamLimiter {
  /** Only keys with open streams: an entry goes when its count drops to zero. */
  private readonly open = new Map<string, number>();

  constructor(readonly maxPerKey: number) {}

  /** Streams open for key now. */
  count(key: string): number {
    return this.open.get(key) ?? 0;
  }

  /** Opens `slots` streams for key: one release function for them, or undefined when they would pass the limit. Release may be called more than once. */
  acquire(key: string, slots = 1): (() => void) | undefined {
    const count = this.count(key);
    if (count + slots > this.maxPerKey) return undefined;
    this.open.set(key, count + slots);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.count(key) - slots;
      if (left > 0) this.open.set(key, left);
      else this.open.delete(key);
    };
  }
}
