// Logging for an operation that is retried until the API server answers again: the first failure of a run at
// warn, the rest at debug, and its end at info, so that an outage is two log lines and not one per retry.
import type { Logger } from "../log/logger.js";

export class OutageLog {
  private since: number | undefined;

  constructor(
    private readonly log: Logger,
    /** Identifies the operation in every line, e.g. { resource: "/api/v1/secrets" }. */
    private readonly context: Record<string, unknown>,
    /** What failed, e.g. "kube list/watch". */
    private readonly operation: string,
  ) {}

  failed(err: unknown): void {
    if (this.since === undefined) {
      this.since = Date.now();
      this.log.warn({ ...this.context, err }, `${this.operation} failed; retrying with backoff`);
    } else {
      this.log.debug({ ...this.context, err }, `${this.operation} failed again`);
    }
  }

  succeeded(): void {
    if (this.since === undefined) return;
    this.log.info({ ...this.context, downMs: Date.now() - this.since }, `${this.operation} working again`);
    this.since = undefined;
  }
}
