// The bridge from an upstream of the per-request era (MCP 2026-07-28) to a session-era client: an
// upstream's InputRequiredResult means nothing to a client of 2025, so the gateway plays the 2026
// client for it. Each input request goes to the client as the ordinary server-to-client request
// it stands for (`elicitation/create`, `sampling/createMessage`, `roots/list`) on the call's
// stream, under a gateway id from the session's forwarded-request table (the relay hands the
// client's answer back here, keyed as the upstream asked); the same request is then retried with
// the answers as `inputResponses` and the upstream's `requestState`, until the upstream answers
// for good. Only that answer reaches the client. The loop and its bounds follow the MCP SDK v2
// client's own (`inputRequired` auto-fulfilment): rounds capped, requestState-only rounds paced,
// the first failed answer ends the call, one timeout for all rounds.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { ClientRequestMethod, isClientRequestMethod, missingClientCapabilities } from "../mcp/capabilities.js";
import { ErrorCode, isObject, type JsonRpcErrorObject, type JsonRpcRequest, type JsonRpcResponse, type Params } from "../mcp/jsonrpc.js";
import { Notification, PerRequestErrorCode } from "../mcp/protocol.js";
import type { GatewaySession, RequestAsker } from "../session/session.js";
import type { RequestChannel } from "../transport/post-responder.js";
import type { PerRequestOptions, PerRequestUpstream } from "../upstream/per-request.js";

/** Most rounds of input one call may ask of the client before the gateway gives up on the upstream. */
export const MAX_INPUT_ROUNDS = 8;

/** A round that asks nothing (only requestState: the upstream sheds load) waits this long before its retry. */
const STATE_ONLY_PACING_MS = 250;

/** One call of a session-era client to an upstream without sessions, as its first round went. */
export interface BridgedCall {
  session: GatewaySession;
  channel: RequestChannel;
  server: string;
  method: string;
  /** What the first round sent; each retry adds the round's answers and state to it. */
  params: Params;
  upstream: PerRequestUpstream;
  /** The first round's options: every retry goes with the same ones, its timeout the time left. */
  options: PerRequestOptions & { signal: AbortSignal };
  /** performance.now() at which the request timeout ends, for all rounds together. */
  deadline: number;
}

type Outcome = { result: Record<string, unknown> } | { error: JsonRpcErrorObject };

/** An input request as the upstream asked it: its key, and the request the client is sent. */
interface InputRequest {
  key: string;
  method: string;
  params?: Params;
}

/** The input requests of an InputRequiredResult, or why they are not MCP. */
function inputRequestsOf(result: Record<string, unknown>): InputRequest[] | string {
  const requests: InputRequest[] = [];
  if (result.inputRequests === undefined) return requests;
  if (!isObject(result.inputRequests)) return "inputRequests is not an object";
  for (const [key, entry] of Object.entries(result.inputRequests)) {
    if (!isObject(entry) || typeof entry.method !== "string" || !isClientRequestMethod(entry.method)) return `input request '${key}' is not an elicitation/create, sampling/createMessage or roots/list request`;
    if (entry.params !== undefined && !isObject(entry.params)) return `input request '${key}' has params that are not an object`;
    requests.push({ key, method: entry.method, params: entry.params });
  }
  return requests;
}

/** The request the client gets for an input request: 2025-11-25 URL-mode elicitation needs the `elicitationId` 2026-07-28 dropped. */
function clientRequest(request: InputRequest): JsonRpcRequest {
  const params = request.method === ClientRequestMethod.Elicit && request.params?.mode === "url" && request.params.elicitationId === undefined ? { ...request.params, elicitationId: randomUUID() } : request.params;
  return params === undefined ? { jsonrpc: "2.0", id: request.key, method: request.method } : { jsonrpc: "2.0", id: request.key, method: request.method, params };
}

/**
 * Fulfils the upstream's InputRequiredResult `first` through the client and retries until the
 * upstream completes. Errors of the upstream's exchange (unreachable, timed out) are thrown as the
 * first round's would be; a cancelled call (the client's cancellation, or its going away) throws
 * once nothing more goes upstream.
 */
export async function completeWithClientInput(call: BridgedCall, first: Record<string, unknown>): Promise<Outcome> {
  const { server, method, options } = call;
  let pending = first;
  for (let round = 1; ; round++) {
    if (round > MAX_INPUT_ROUNDS) return { error: { code: ErrorCode.InternalError, message: `upstream ${server}: ${method} still required input after ${MAX_INPUT_ROUNDS} rounds` } };
    const requests = inputRequestsOf(pending);
    const state = typeof pending.requestState === "string" ? pending.requestState : undefined;
    if (typeof requests === "string" || (requests.length === 0 && state === undefined)) {
      return { error: { code: ErrorCode.UpstreamUnavailable, message: `upstream ${server}: invalid InputRequiredResult: ${typeof requests === "string" ? requests : "neither inputRequests nor requestState"}` } };
    }
    let responses: Record<string, unknown> | undefined;
    if (requests.length > 0) {
      const answered = await askClient(call, requests);
      if ("error" in answered) return answered;
      responses = answered.result;
    } else {
      await sleep(STATE_ONLY_PACING_MS, undefined, { signal: options.signal });
    }
    const timeoutMs = call.deadline - performance.now();
    if (timeoutMs <= 0) return timedOut(call);
    const params: Params = { ...call.params };
    delete params.inputResponses;
    delete params.requestState;
    if (responses) params.inputResponses = responses;
    if (state !== undefined) params.requestState = state;
    const response = await call.upstream.request(method, params, { ...options, timeoutMs });
    if ("error" in response) return { error: response.error };
    if (response.result.resultType !== "input_required") return { result: response.result };
    pending = response.result;
  }
}

function timedOut(call: BridgedCall): Outcome {
  return { error: { code: ErrorCode.UpstreamTimeout, message: `upstream ${call.server}: ${call.method} and the client's input it asked for took longer than the request timeout` } };
}

/**
 * One round: every input request to the client at once, answers collected by key. Settles with
 * all answers, or with the first failure (a missing capability before anything is sent, an error
 * answer, no stream to send on, the request timeout); rejects when the call is cancelled. Requests
 * left unanswered are withdrawn from the session and the client is told they are cancelled.
 */
function askClient(call: BridgedCall, requests: InputRequest[]): Promise<Outcome> {
  const { session, channel, server, options } = call;
  const declared = session.init.clientCapabilities;
  for (const request of requests) {
    const missing = missingClientCapabilities(request.method, request.params, declared);
    if (missing) {
      const message = `upstream ${server} asked for input '${request.key}' (${request.method}) that needs client capabilities the session did not declare: ${JSON.stringify(missing)}`;
      return Promise.resolve({ error: { code: PerRequestErrorCode.MissingRequiredClientCapability, message, data: { requiredCapabilities: missing } } });
    }
  }
  const signal = options.signal;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  /** How the error messages name an input request. */
  const describe = (key: string) => `'${key}' (${requests.find((request) => request.key === key)?.method ?? "?"})`;
  return new Promise<Outcome>((resolve, reject) => {
    const answers: Record<string, unknown> = {};
    const sent: string[] = [];
    let waiting = requests.length;
    const done = (settle: () => void) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", cancelled);
      for (const id of sent) {
        if (session.takeForwarded(id)) channel.send({ jsonrpc: "2.0", method: Notification.Cancelled, params: { requestId: id, reason: "the gateway no longer needs the answer" } });
      }
      settle();
    };
    const cancelled = () => done(() => reject(signal.reason as Error));
    const timer = setTimeout(() => done(() => resolve(timedOut(call))), Math.max(0, call.deadline - performance.now()));
    signal.addEventListener("abort", cancelled, { once: true });
    const asker: RequestAsker = {
      reply: (response: JsonRpcResponse) => {
        const key = String(response.id);
        if ("error" in response) {
          const { code, message } = response.error;
          done(() => resolve({ error: { code: ErrorCode.InternalError, message: `the client answered ${describe(key)} asked by upstream ${server} with error ${code}: ${message}`, data: { inputRequest: key, error: response.error } } }));
        } else {
          answers[key] = response.result;
          if (--waiting === 0) done(() => resolve({ result: answers }));
        }
        return Promise.resolve();
      },
    };
    for (const request of requests) {
      const forwarded = session.forwardRequest(server, asker, clientRequest(request));
      sent.push(forwarded.id);
      // On the call's stream, else the session's GET stream: a client that takes only JSON answers has one open.
      if (!channel.send(forwarded) && !session.notify(forwarded)) {
        done(() => resolve({ error: { code: ErrorCode.InternalError, message: `the client has no open stream to receive ${describe(request.key)} asked by upstream ${server}` } }));
        return;
      }
    }
  });
}
