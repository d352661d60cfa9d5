// Exponential backoff, the one way the gateway waits before trying again: upstream reconnects,
// stdio restarts, work-queue requeues after an error, reading the session key at start.

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /**
   * Spread each delay by ±jitter (0.2: 80 %..120 %), so a fleet of brokers does not retry a
   * failing upstream in step; 0 for exact delays (a work queue, whose order tests rely on).
   */
  jitter?: number;
}

/** The delay before retry number `attempt` (0 for the first): initialMs doubled per attempt, capped at maxMs. */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  // The exponent is capped so that a long outage does not overflow to Infinity.
  const base = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 52));
  const jitter = options.jitter ?? 0.2;
  return jitter === 0 ? base : Math.round(base * (1 - jitter + Math.random() * 2 * jitter));
}

/** A backoff that counts its own attempts until reset. */
export class Backoff {
  private attempt = 0;

  constructor(private readonly options: BackoffOptions) {}

  next(): number {
    return backoffDelay(this.attempt++, this.options);
  }

  reset(): void {
    this.attempt = 0;
  }
}
