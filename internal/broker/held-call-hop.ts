// The hop of a retry to the replica holding its call (2026-07-28 clients of session-era upstreams,
// pending-calls.ts), over the shared store's events channel. A retry whose verified state names
// another replica is published for that replica with what it needs to check it again (the state,
// the caller and request it was verified for, the answers); the holder treats it as a retry of its
// own and publishes what becomes of it (the result, the next questions, a refusal; the call's
// notifications on the way) for the replica waiting with the client. The holder acknowledges at
// once and again whenever the waiting replica asks, so a holder that is gone (killed, restarted)
// is known within two Redis timeouts instead of the call's; the wait as a whole is bounded by the
// upstream timeout, which bounds the call itself. No client token travels: the holder answers the
// upstream with the call's own (the state proves the retry is the same caller's).
import { randomUUID } from "node:crypto";
import type { Logger } from "../log/logger.js";
import { errorResponse, ErrorCode, JsonRpcError, type JsonRpcResponse } from "../mcp/jsonrpc.js";
import type { ChannelEvent, HeldCallEvent, RetryOutcome } from "../session/channel-events.js";
import type { RedisSessionState } from "../session/shared-state.js";
import type { ForwardedRetry, HeldCallClient, PendingCalls, RetryHop } from "./pending-calls.js";

export interface HeldCallHopOptions {
  /** How long the holder may take to acknowledge a retry, or to say it still serves one. */
  ackTimeoutMs: number;
  /** The longest wait for a forwarded retry's outcome (the upstream timeout, which bounds the call). */
  maxWaitMs: number;
}

/** A retry this replica forwarded, waiting with its client for the holder's outcome. */
interface Waiting {
  client: HeldCallClient;
  replica: string;
  /** Whether the holder was heard from since the last liveness check. */
  heard: boolean;
  /** The liveness check, from the moment the retry is published. */
  check?: NodeJS.Timeout;
  deadline: NodeJS.Timeout;
  gone: () => void;
}

export class HeldCallHop implements RetryHop {
  /** Retries this replica forwarded, by ticket. */
  private readonly waiting = new Map<string, Waiting>();
  /** Retries of other replicas this replica serves, by ticket: aborted when their client goes away. */
  private readonly serving = new Map<string, { gone: AbortController; last: (outcome: RetryOutcome) => void }>();

  constructor(
    private readonly calls: PendingCalls,
    private readonly shared: RedisSessionState,
    private readonly log: Logger,
    private readonly options: HeldCallHopOptions,
  ) {}

  private get replica(): string {
    return this.calls.replica;
  }

  start(): Promise<void> {
    return this.shared.subscribe((event) => this.received(event));
  }

  forward(replica: string, retry: ForwardedRetry, client: HeldCallClient): void {
    const ticket = randomUUID();
    const seconds = (ms: number) => Math.round(ms / 100) / 10;
    const waiting: Waiting = {
      client,
      replica,
      heard: false,
      deadline: setTimeout(() => this.fail(ticket, errorResponse(null, ErrorCode.UpstreamTimeout, `the gateway replica holding the call did not answer within ${seconds(this.options.maxWaitMs)} s`)), this.options.maxWaitMs),
      gone: () => this.settle(ticket, true),
    };
    this.waiting.set(ticket, waiting);
    client.signal.addEventListener("abort", waiting.gone, { once: true });
    const lost = () => this.fail(ticket, errorResponse(null, ErrorCode.InvalidParams, `Invalid params: requestState names a call held by another gateway replica, which did not answer within ${seconds(this.options.ackTimeoutMs)} s (it stopped or restarted, and the call ended with it); send the request again`));
    this.shared.publish({ type: "retry", replica, from: this.replica, ticket, ...retry }).then(
      () => {
        if (this.waiting.get(ticket) !== waiting) return;
        // Published: from now on silence since the last look means the holder is gone; else it is asked again.
        waiting.check = setInterval(() => {
          if (!waiting.heard) return lost();
          waiting.heard = false;
          this.publish({ type: "retry-alive", replica, ticket });
        }, this.options.ackTimeoutMs);
      },
      (err: unknown) => this.fail(ticket, errorResponse(null, ErrorCode.InternalError, `the gateway replica holding the call cannot be reached (shared store: ${(err as Error).message}); retry later`)),
    );
  }

  /** Shutdown (before the held calls end): the replicas waiting on retries served here hear it at once rather than time out. */
  close(): void {
    for (const { last } of [...this.serving.values()]) last({ kind: "answer", response: errorResponse(null, ErrorCode.InternalError, "the gateway replica holding the call is shutting down, and the call ends with it; send the request again") });
  }

  private received(event: ChannelEvent): void {
    if (!("replica" in event) || event.replica !== this.replica) return;
    switch (event.type) {
      case "retry":
        this.serve(event);
        return;
      case "retry-alive":
        if (this.serving.has(event.ticket)) this.reply(event, { kind: "accepted" });
        return;
      case "retry-gone":
        // As a local retry's client going away: the held call is cancelled.
        this.serving.get(event.ticket)?.gone.abort();
        this.serving.delete(event.ticket);
        return;
      case "retried":
        this.outcome(event.ticket, event.outcome);
    }
  }

  /** A retry of a call held here, from the replica `from`: checked and served as if it had come here. */
  private serve(event: Extract<HeldCallEvent, { type: "retry" }>): void {
    const { ticket } = event;
    if (this.serving.has(ticket)) return;
    const to = { replica: event.from, ticket };
    const serving = {
      gone: new AbortController(),
      /** The retry's outcome: the first one ends the serving. */
      last: (outcome: RetryOutcome) => {
        if (this.serving.get(ticket) !== serving) return;
        this.serving.delete(ticket);
        this.reply(to, outcome);
      },
    };
    this.serving.set(ticket, serving);
    const client: HeldCallClient = {
      signal: serving.gone.signal,
      answer: (response) => serving.last({ kind: "answer", response }),
      inputRequired: (inputRequests, requestState) => serving.last({ kind: "inputRequired", inputRequests, requestState }),
      pass: (message) => {
        if (this.serving.get(ticket) === serving) this.reply(to, { kind: "notify", message });
        return true;
      },
      abandon: () => serving.last({ kind: "abandoned" }),
    };
    try {
      this.calls.retryForwarded(event, client);
    } catch (err) {
      if (!(err instanceof JsonRpcError)) this.log.error({ err }, "forwarded retry failed");
      const refused = err instanceof JsonRpcError ? err : new JsonRpcError(ErrorCode.InternalError, `internal error: ${(err as Error).message}`);
      client.answer(errorResponse(null, refused.code, refused.message, refused.data));
      return;
    }
    if (this.serving.get(ticket) === serving) this.reply(to, { kind: "accepted" });
  }

  /** What became of a retry this replica forwarded. */
  private outcome(ticket: string, outcome: RetryOutcome): void {
    const waiting = this.waiting.get(ticket);
    if (!waiting) return;
    waiting.heard = true;
    switch (outcome.kind) {
      case "accepted":
        return;
      case "notify":
        waiting.client.pass(outcome.message);
        return;
      case "answer":
        this.settle(ticket, false)?.answer(outcome.response);
        return;
      case "inputRequired":
        this.settle(ticket, false)?.inputRequired(outcome.inputRequests, outcome.requestState);
        return;
      case "abandoned":
        this.settle(ticket, false)?.abandon();
    }
  }

  /** The wait ends with an error for the client; the holder, if it still serves the retry, lets it go. */
  private fail(ticket: string, response: JsonRpcResponse): void {
    this.settle(ticket, true)?.answer(response);
  }

  /** Ends the wait; `tellHolder` when the holder must stop serving it (the client went away, or was answered here). */
  private settle(ticket: string, tellHolder: boolean): HeldCallClient | undefined {
    const waiting = this.waiting.get(ticket);
    if (!waiting) return undefined;
    this.waiting.delete(ticket);
    clearInterval(waiting.check);
    clearTimeout(waiting.deadline);
    waiting.client.signal.removeEventListener("abort", waiting.gone);
    if (tellHolder) this.publish({ type: "retry-gone", replica: waiting.replica, ticket });
    return waiting.client;
  }

  private reply(to: { replica: string; ticket: string }, outcome: RetryOutcome): void {
    this.publish({ type: "retried", replica: to.replica, ticket: to.ticket, outcome });
  }

  private publish(event: HeldCallEvent): void {
    this.shared.publish(event).catch((err: unknown) => this.log.warn({ err: (err as Error).message, event: event.type }, "shared store unavailable; a held call's retry may time out"));
  }
}
