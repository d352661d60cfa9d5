// How one upstream request is stopped: its caller gave up, or its timeout passed. A plain
// callback slot rather than an AbortSignal on the hot path: with an abort listener per call on the
// request's AbortSignal, every call's objects outlived young-generation collections and were
// promoted (issue 9: 14 MB promoted per scavenge instead of 0.7, scavenges of 13 ms instead of
// 1.7, a third of the gateway's CPU per call; `--trace-gc` under `make bench --only load`).
// Connectors that need a real AbortSignal (opening a stdio or legacy SSE channel) get one on demand.
// A call's own abort (the client cancelled or went away) is one too, handed to exchange(), which
// takes the hook while its request is out.

export class RequestAbort {
  private why?: Error;
  private hook?: (reason: Error) => void;
  private controller?: AbortController;

  get aborted(): boolean {
    return this.why !== undefined;
  }

  get reason(): Error | undefined {
    return this.why;
  }

  /** Stops the request: the connector's hook runs at once (once only). */
  abort(reason: Error = new Error("aborted")): void {
    if (this.why) return;
    this.why = reason;
    this.hook?.(reason);
    this.controller?.abort(reason);
  }

  /** The connector's one hook, called when the request is stopped; undefined removes it. */
  onAbort(hook: ((reason: Error) => void) | undefined): void {
    this.hook = hook;
  }

  /** An AbortSignal that follows this abort, for APIs that take one; made on first use. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.why) this.controller.abort(this.why);
    }
    return this.controller.signal;
  }
}
