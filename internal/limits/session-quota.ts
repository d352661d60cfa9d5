// Sessions per client: each holds memory (and upstream sessions) until it ends or idles out, so one
// client (token identity, else address) may hold only so many on a replica at once.

/** Thrown when a client that holds its quota of sessions asks for another. */
export class SessionQuotaError extends Error {}

export class SessionQuota {
  private readonly held = new Map<string, number>();

  /** 0 = no limit. */
  constructor(readonly maxPerClient: number) {}

  /** Counts one more session for client, or throws SessionQuotaError. */
  take(client: string): void {
    const count = this.held.get(client) ?? 0;
    if (this.maxPerClient > 0 && count >= this.maxPerClient) {
      throw new SessionQuotaError(`Too Many Requests: the client already holds ${this.maxPerClient} sessions; end one (DELETE) or let one expire`);
    }
    this.held.set(client, count + 1);
  }

  release(client: string): void {
    const left = (this.held.get(client) ?? 0) - 1;
    if (left > 0) this.held.set(client, left);
    else this.held.delete(client);
  }
}
