// A rate-limited work queue with the semantics of controller-runtime's, so that reconcilers are written the
// usual way (idempotent, keyed, retried):
//  - a key waits at most once: adding a waiting key again is a no-op;
//  - a key is never processed by two workers at once: added while processing, it runs once more afterwards;
//  - when processing throws, the key comes back after baseDelay * 2^(earlier failures), capped at maxDelay;
//    a success forgets the failures.
// Keys may be structured values (typed requests); `identify` says when two of them are the same key.
import type { Logger } from "../log/logger.js";
import { backoffDelay } from "../retry/backoff.js";

export interface WorkQueueOptions {
  /** For logs. */
  name: string;
  /** How many keys are processed concurrently. */
  workers: number;
  /** First retry delay after a failure; default 100 ms. */
  baseDelayMs?: number;
  /** Longest retry delay; default 30 s. */
  maxDelayMs?: number;
}

/** Identifies a key: two keys with the same identity are one key. Strings identify themselves. */
export type KeyIdentity<K> = (key: K) => string;

export class WorkQueue<K = string> {
  /** Called after every processing of a key, with the error if it threw: a hook for metrics. */
  onProcessed?: (key: K, durationMs: number, error?: unknown) => void;

  /** Keys ready to be processed, in the order they were added. */
  private readonly waiting = new Map<string, K>();
  private readonly processing = new Set<string>();
  /** Keys added while being processed: they wait again once that ends. */
  private readonly addedWhileProcessing = new Map<string, K>();
  private readonly delayed = new Map<string, { readyAt: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private started = false;
  private drained: PromiseWithResolvers<void> | undefined;

  constructor(
    private readonly options: WorkQueueOptions,
    private readonly process: (key: K) => Promise<void>,
    private readonly log: Logger,
    private readonly identify: KeyIdentity<K> = String,
  ) {
    this.baseDelayMs = options.baseDelayMs ?? 100;
    this.maxDelayMs = options.maxDelayMs ?? 30_000;
  }

  /** Keys waiting to be processed, including those that will run again after their current processing. */
  get depth(): number {
    return this.waiting.size + this.addedWhileProcessing.size;
  }

  add(key: K): void {
    if (this.drained) return;
    const id = this.identify(key);
    if (this.processing.has(id)) this.addedWhileProcessing.set(id, key);
    else if (!this.waiting.has(id)) this.waiting.set(id, key);
    this.dispatch();
  }

  /** Adds the key after a delay. Of several delayed adds of one key, the earliest wins, as in client-go. */
  addAfter(key: K, delayMs: number): void {
    if (this.drained) return;
    if (delayMs <= 0) return this.add(key);
    const id = this.identify(key);
    const readyAt = Date.now() + delayMs;
    const pending = this.delayed.get(id);
    if (pending && pending.readyAt <= readyAt) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(id);
      this.add(key);
    }, delayMs);
    this.delayed.set(id, { readyAt, timer });
  }

  /** Starts the workers. Keys added before wait until then. */
  start(): void {
    this.started = true;
    this.dispatch();
  }

  /** Takes no more keys (waiting and delayed ones are dropped) and resolves when the keys in process are done. */
  shutdown(): Promise<void> {
    if (!this.drained) {
      this.drained = Promise.withResolvers();
      for (const { timer } of this.delayed.values()) clearTimeout(timer);
      this.delayed.clear();
      this.waiting.clear();
      this.addedWhileProcessing.clear();
      if (this.processing.size === 0) this.drained.resolve();
    }
    return this.drained.promise;
  }

  private dispatch(): void {
    if (!this.started || this.drained) return;
    for (const [id, key] of this.waiting) {
      if (this.processing.size >= this.options.workers) return;
      this.waiting.delete(id);
      this.processing.add(id);
      void this.work(id, key);
    }
  }

  private async work(id: string, key: K): Promise<void> {
    const start = performance.now();
    let failed = false;
    let error: unknown;
    try {
      await this.process(key);
      this.failures.delete(id);
    } catch (err) {
      failed = true;
      error = err;
      this.retryLater(id, key, err);
    }
    this.processing.delete(id);
    const again = this.addedWhileProcessing.get(id);
    if (again !== undefined) {
      this.addedWhileProcessing.delete(id);
      this.waiting.set(id, again);
    }
    this.report(key, performance.now() - start, failed, error);
    if (this.drained && this.processing.size === 0) this.drained.resolve();
    this.dispatch();
  }

  private retryLater(id: string, key: K, err: unknown): void {
    const failures = this.failures.get(id) ?? 0;
    this.failures.set(id, failures + 1);
    const delayMs = backoffDelay(failures, { initialMs: this.baseDelayMs, maxMs: this.maxDelayMs, jitter: 0 });
    this.log.warn({ err: err instanceof Error ? err.message : String(err), queue: this.options.name, key: id, failures: failures + 1, retryInMs: delayMs }, "work queue: processing failed; will retry");
    this.addAfter(key, delayMs);
  }

  private report(key: K, durationMs: number, failed: boolean, error: unknown): void {
    try {
      if (failed) this.onProcessed?.(key, durationMs, error);
      else this.onProcessed?.(key, durationMs);
    } catch (err) {
      this.log.error({ err, queue: this.options.name }, "work queue: onProcessed hook failed");
    }
  }
}
