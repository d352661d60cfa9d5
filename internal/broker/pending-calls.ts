// The bridge from session-era upstreams to 2026-07-28 clients: calls the gateway holds open while
// the client answers the upstream's questions. A session-era upstream asks the client during a
// call (sampling, elicitation, roots); a 2026-07-28 client can only be asked in an
// InputRequiredResult, after which it retries the request with its answers. So the call's HTTP
// request is answered with the questions (the upstream's requests, keyed by their gateway ids,
// those already queued together) and a requestState naming this replica and the held call; the
// upstream's call stays open here. The retry's inputResponses answer the upstream under its own
// ids, and the retry waits for what comes next: the result, or the next questions. A question the
// retry left unanswered is asked again (as MRTR says). A call nobody retries within the TTL ends:
// its questions are answered with an error and the upstream is told the call is cancelled. A
// retry that lands on another replica reaches the call through Redis (held-call-hop.ts), where
// the holder checks it as its own; without Redis it is refused.
import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { errorResponse, ErrorCode, isNotification, JsonRpcError, type JsonRpcId, type JsonRpcMessage, type JsonRpcRequest, type JsonRpcResponse, type Params } from "../mcp/jsonrpc.js";
import { Notification } from "../mcp/protocol.js";
import type { GatewaySession } from "../session/session.js";
import type { Relay } from "./relay.js";
import type { PendingAt, RequestStates, StateOrigin } from "./request-state.js";

/** The client side of a held call: the reply of the request answered now (the first one, or a retry). */
export interface HeldCallClient {
  readonly signal: AbortSignal;
  /** The call's final answer. */
  answer(response: JsonRpcResponse): void;
  /** The upstream's questions; the client retries with their answers and the state. */
  inputRequired(inputRequests: Record<string, { method: string; params?: Params }>, requestState: string): void;
  /** A notification of the call (progress, log message). */
  pass(message: JsonRpcMessage): boolean;
  abandon(): void;
}

export interface HeldCallInit {
  /** The reply of the request the call was made for. */
  client: HeldCallClient;
  /** The internal session the call runs on, and the relay that reaches its upstream session. */
  session: GatewaySession;
  relay: Relay;
  /** The headers of the request the call was made for: their client token answers the upstream for a retry forwarded by another replica. */
  headers: IncomingHttpHeaders;
  /** The id the call runs under in that session. */
  internalId: JsonRpcId;
  origin: Omit<StateOrigin, "server">;
}

function invalidParams(message: string): JsonRpcError {
  return new JsonRpcError(ErrorCode.InvalidParams, `Invalid params: ${message}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A retry, verified by the replica it reached, for the replica holding its call. */
export interface ForwardedRetry {
  requestState: string;
  origin: Omit<StateOrigin, "server">;
  inputResponses: Record<string, unknown>;
}

/** Carries a retry to the replica its state names (with Redis: held-call-hop.ts). */
export interface RetryHop {
  forward(replica: string, retry: ForwardedRetry, client: HeldCallClient): void;
}

export class PendingCalls {
  /** Named in every state this replica seals, so a retry that lands elsewhere finds its call. */
  readonly replica = randomUUID();
  private readonly calls = new Map<string, HeldCall>();
  /** Absent without Redis: a retry for another replica is then refused. */
  hop?: RetryHop;

  constructor(
    readonly states: RequestStates,
    /** How long a held call waits for the client's retry. */
    readonly ttlMs: number,
  ) {}

  /** Holds the call open: from now on its upstream's questions and answer go through the held call. */
  hold(init: HeldCallInit): HeldCall {
    const call = new HeldCall(randomUUID(), init, this);
    this.calls.set(call.handle, call);
    return call;
  }

  /** Whether a request retries a held call (by its state; verified by retry()). */
  isRetry(params: Params | undefined): boolean {
    return params !== undefined && this.states.isPending(params.requestState);
  }

  /** Hands a retry to its held call, here or on the replica holding it; a JsonRpcError (-32602) when its state or answers cannot be used. */
  retry(params: Params, origin: Omit<StateOrigin, "server">, client: HeldCallClient, headers: IncomingHttpHeaders): void {
    const at = this.states.openPending(params.requestState, origin);
    const responses = params.inputResponses ?? {};
    if (!isObject(responses)) throw invalidParams("params.inputResponses must be an object");
    if (at.replica === this.replica) {
      this.resume(at, responses, client, headers);
      return;
    }
    if (!this.hop) throw invalidParams("requestState names a call held by another gateway replica; without --redis-url this bridge needs a single replica or session affinity");
    this.hop.forward(at.replica, { requestState: params.requestState as string, origin, inputResponses: responses }, client);
  }

  /** A retry another replica verified and forwarded: checked again as one that came here; the upstream gets its answers with the call's own client token. */
  retryForwarded(retry: ForwardedRetry, client: HeldCallClient): void {
    const at = this.states.openPending(retry.requestState, retry.origin);
    if (at.replica !== this.replica) throw invalidParams("requestState names a call held by another gateway replica");
    this.resume(at, retry.inputResponses, client, undefined);
  }

  private resume(at: PendingAt, responses: Record<string, unknown>, client: HeldCallClient, headers: IncomingHttpHeaders | undefined): void {
    const call = this.calls.get(at.handle);
    if (!call) throw invalidParams("requestState names a call that is no longer held (it completed, waited longer than the gateway holds calls, or the gateway restarted)");
    if (at.round !== call.round) throw invalidParams("requestState was already answered; retry with the latest one");
    call.retry(client, responses, headers);
  }

  get size(): number {
    return this.calls.size;
  }

  forget(call: HeldCall): void {
    if (this.calls.get(call.handle) === call) this.calls.delete(call.handle);
  }

  /** Shutdown: every held call is cancelled upstream. */
  closeAll(): void {
    for (const call of [...this.calls.values()]) call.cancel("gateway shutting down");
  }
}

/** One call held open: the questions the client has not answered, who is waiting for it, and its answer once it came. */
export class HeldCall {
  /** Which InputRequiredResult of the call a retry answers; an older state is refused. */
  round = 0;
  /** The upstream's unanswered requests, by gateway id (the key the client answers under). */
  private readonly asks = new Map<string, JsonRpcRequest>();
  private client?: HeldCallClient;
  /** The upstream answered while no client was waiting: kept for the retry. */
  private final?: JsonRpcResponse;
  private timer?: NodeJS.Timeout;
  private flushing = false;
  private ended = false;
  private readonly clientGone = () => this.cancel("the client closed its retry");

  constructor(
    readonly handle: string,
    private readonly init: HeldCallInit,
    private readonly owner: PendingCalls,
  ) {
    // The first request's going away is the method table's to handle (it cancels the call).
    this.client = init.client;
  }

  /** A request of the upstream for the client; asked together with those that arrive at the same time. */
  ask(request: JsonRpcRequest): void {
    if (this.ended) return;
    this.asks.set(String(request.id), request);
    if (this.client && !this.flushing) {
      this.flushing = true;
      setImmediate(() => this.flush());
    }
  }

  /** A notification of the call: to the waiting client; an upstream withdrawing a question takes it back. */
  notify(message: JsonRpcMessage): boolean {
    if (isNotification(message) && message.method === Notification.Cancelled) return this.asks.delete(String(message.params?.requestId));
    return this.client?.pass(message) ?? false;
  }

  /** The upstream answered the call: to the waiting client, else kept for the retry. */
  completed(response: JsonRpcResponse): void {
    if (this.ended) return;
    const client = this.detach();
    if (!client) {
      this.final = response;
      return;
    }
    this.end();
    client.answer(response);
  }

  /** The call ended without an answer (cancelled). */
  abandoned(): void {
    const client = this.detach();
    this.end();
    client?.abandon();
  }

  /** The retry's answers go upstream with its own client token, or (forwarded by another replica: none travels) the call's. */
  retry(client: HeldCallClient, responses: Record<string, unknown>, headers: IncomingHttpHeaders | undefined): void {
    for (const key of this.asks.keys()) {
      if (Object.hasOwn(responses, key) && !isObject(responses[key])) throw invalidParams(`params.inputResponses.${key} must be an object`);
    }
    clearTimeout(this.timer);
    // A retry already waiting (sent again by a client that lost its connection, say) gives way.
    this.detach()?.answer(errorResponse(null, ErrorCode.InvalidRequest, "superseded by another retry of the same request"));
    for (const [key, ask] of this.asks) {
      if (!Object.hasOwn(responses, key)) continue;
      this.asks.delete(key);
      void this.init.relay.answerUpstream(this.init.session, { jsonrpc: "2.0", id: ask.id, result: responses[key] as Record<string, unknown> }, headers ?? this.init.headers);
    }
    this.client = client;
    client.signal.addEventListener("abort", this.clientGone, { once: true });
    if (this.final) this.completed(this.final);
    // MRTR: what the retry did not answer is asked again.
    else if (this.asks.size > 0) this.ask(this.asks.values().next().value as JsonRpcRequest);
  }

  /** Gives up on the call: the upstream is told (its answer, if any, then never comes). */
  cancel(reason: string): void {
    if (!this.ended && !this.cancelUpstream(reason)) this.abandoned();
  }

  /** False when the call is no longer running. */
  private cancelUpstream(reason: string): boolean {
    return this.init.relay.cancel(this.init.session, { requestId: this.init.internalId, reason });
  }

  /** The queued questions go to the waiting client as one InputRequiredResult; the call then waits for the retry. */
  private flush(): void {
    this.flushing = false;
    if (this.ended || !this.client || this.asks.size === 0) return;
    this.round++;
    const inputRequests: Record<string, { method: string; params?: Params }> = {};
    for (const [key, ask] of this.asks) inputRequests[key] = ask.params === undefined ? { method: ask.method } : { method: ask.method, params: ask.params };
    const { replica, states, ttlMs } = this.owner;
    const state = states.sealPending(this.init.origin, { replica, handle: this.handle, round: this.round }, ttlMs);
    const client = this.detach();
    this.timer = setTimeout(() => this.expire(), ttlMs);
    this.timer.unref();
    client?.inputRequired(inputRequests, state);
  }

  /** Nobody retried in time: the upstream's questions get an error, and the call is cancelled. */
  private expire(): void {
    if (this.ended || this.client) return;
    if (this.final) {
      this.end();
      return;
    }
    const seconds = Math.round(this.owner.ttlMs / 1000);
    const told = [...this.asks.values()].map((ask) => this.init.relay.answerUpstream(this.init.session, errorResponse(ask.id, ErrorCode.InternalError, `the client did not answer within ${seconds} s`), undefined));
    this.asks.clear();
    // Its requests answered first, so the upstream hears of the cancellation last.
    void Promise.all(told).then(() => this.cancelUpstream(`the client did not retry within ${seconds} s`));
    this.end();
  }

  private detach(): HeldCallClient | undefined {
    const client = this.client;
    client?.signal.removeEventListener("abort", this.clientGone);
    this.client = undefined;
    return client;
  }

  private end(): void {
    this.ended = true;
    clearTimeout(this.timer);
    // Questions the upstream no longer needs answered are forgotten with the call.
    for (const ask of this.asks.values()) this.init.session.takeForwarded(ask.id);
    this.asks.clear();
    this.owner.forget(this);
  }
}
