// A rate-limited work queue with the semantics of controller-runtime's, so that reconcilers are written the
// usual way (idempotent, keyed, retried):
//  - a key waits at most once: adding a waiting key again is a no-op;
//  - a key is never processed by two workers at once: added while processing, it runs once more afterwards;
//  - when processing throws, the key comes back after baseDelay * 2^(earlier failures), capped at maxDelay;
//    a success forgets the failures.
import type { Logger } from "../log/logger.js";

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

export class WorkQueue {
  /** Called after every processing of a key, with the error if it threw: a hook for metrics. */
  onProcessed?: (key: string, durationMs: number, error?: unknown) => void;

  /** Keys ready to be processed, in the order they were added. */
  private readonly waiting = new Set<string>();
  private readonly processing = new Set<string>();
  /** Keys added while being processed: they wait again once that ends. */
  private readonly addedWhileProcessing = new Set<string>();
  private readonly delayed = new Map<string, { readyAt: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private started = false;
  private drained: PromiseWithResolvers<void> | undefined;

  constructor(
    private readonly options: WorkQueueOptions,
    private readonly process: (key: string) => Promise<void>,
    private readonly log: Logger,
  ) {
    this.baseDelayMs = options.baseDelayMs ?? 100;
    this.maxDelayMs = options.maxDelayMs ?? 30_000;
  }

  /** Keys waiting to be processed, including those that will run again after their current processing. */
  get depth(): number {
    return this.waiting.size + this.addedWhileProcessing.size;
  }

  add(key: string): void {
    if (this.drained) return;
    if (this.processing.has(key)) this.addedWhileProcessing.add(key);
    else this.waiting.add(key);
    this.dispatch();
  }

  /** Adds the key after a delay. Of several delayed adds of one key, the earliest wins, as in client-go. */
  addAfter(key: string, delayMs: number): void {
    if (this.drained) return;
    if (delayMs <= 0) return this.add(key);
    const readyAt = Date.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending && pending.readyAt <= readyAt) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    this.delayed.set(key, { readyAt, timer });
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
    for (const key of this.waiting) {
      if (this.processing.size >= this.options.workers) return;
      this.waiting.delete(key);
      this.processing.add(key);
      void this.work(key);
    }
  }

  private async work(key: string): Promise<void> {
    const start = performance.now();
    let failed = false;
    let error: unknown;
    try {
      await this.process(key);
      this.failures.delete(key);
    } catch (err) {
      failed = true;
      error = err;
      this.retryLater(key, err);
    }
    this.processing.delete(key);
    if (this.addedWhileProcessing.delete(key)) this.waiting.add(key);
    this.report(key, performance.now() - start, failed, error);
    if (this.drained && this.processing.size === 0) this.drained.resolve();
    this.dispatch();
  }

  private retryLater(key: string, err: unknown): void {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    const delayMs = Math.min(this.baseDelayMs * 2 ** failures, this.maxDelayMs);
    this.log.warn({ err: err instanceof Error ? err.message : String(err), queue: this.options.name, key, failures: failures + 1, retryInMs: delayMs }, "work queue: processing failed; will retry");
    this.addAfter(key, delayMs);
  }

  private report(key: string, durationMs: number, failed: boolean, error: unknown): void {
    try {
      if (failed) this.onProcessed?.(key, durationMs, error);
      else this.onProcessed?.(key, durationMs);
    } catch (err) {
      this.log.error({ err, queue: this.options.name }, "work queue: onProcessed hook failed");
    }
  }
}
