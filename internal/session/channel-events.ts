// What replicas tell each other on the shared store's one pub/sub channel (`mcp-gw:events`), and
// the zod schemas every event is checked against before a replica acts on it. Two families:
// events about a session (the replicas holding it act), and the hop of a retry to a call held
// open on another replica (broker/held-call-hop.ts: only the replica an event names acts).
import { z } from "zod";
import { classify, type JsonRpcMessage, type JsonRpcResponse } from "../mcp/jsonrpc.js";

/** The hand-written JSON-RPC check the transport uses, so an event carries only what a client could have sent. */
const message = z.custom<JsonRpcMessage>((value) => classify(value).kind !== "invalid");
const response = z.custom<JsonRpcResponse>((value) => classify(value).kind === "response");
const object = z.record(z.string(), z.unknown());

const SessionEventSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("closed"), session: z.string() }),
  /** A message for a client stream of the session held elsewhere. */
  z.object({ type: z.literal("deliver"), session: z.string(), message }),
  /** A client's notifications/cancelled, for the replica running the request it names. */
  z.object({ type: z.literal("cancel"), session: z.string(), params: object }),
  /** A client's answer to a request a call running on another replica asked it (by the gateway id it was sent under). */
  z.object({ type: z.literal("answer"), session: z.string(), response }),
]);

/** What one replica's retry of a held call brings back from the replica holding the call. */
const RetryOutcomeSchema = z.discriminatedUnion("kind", [
  /** The holder took the retry (or, asked, still serves it): the call runs, and the wait is the call's. */
  z.object({ kind: z.literal("accepted") }),
  /** A notification of the call (progress, log message) while the retry waits. */
  z.object({ kind: z.literal("notify"), message }),
  /** The call's final answer, or the refusal of the retry. */
  z.object({ kind: z.literal("answer"), response }),
  z.object({ kind: z.literal("inputRequired"), inputRequests: z.record(z.string(), z.object({ method: z.string(), params: object.optional() })), requestState: z.string() }),
  z.object({ kind: z.literal("abandoned") }),
]);

const HeldCallEventSchema = z.discriminatedUnion("type", [
  /** A retry of a call `replica` holds, verified by the replica `from` that got it. */
  z.object({
    type: z.literal("retry"),
    replica: z.string(),
    from: z.string(),
    ticket: z.string(),
    requestState: z.string(),
    origin: z.object({ caller: z.string(), method: z.string(), name: z.string() }),
    inputResponses: object,
  }),
  /** The replica waiting on `ticket` asks whether the holder still serves it (answered with "accepted"). */
  z.object({ type: z.literal("retry-alive"), replica: z.string(), ticket: z.string() }),
  /** The client of a forwarded retry went away, or its replica stopped waiting. */
  z.object({ type: z.literal("retry-gone"), replica: z.string(), ticket: z.string() }),
  /** For the replica waiting on `ticket`. */
  z.object({ type: z.literal("retried"), replica: z.string(), ticket: z.string(), outcome: RetryOutcomeSchema }),
]);

export const ChannelEventSchema = z.union([SessionEventSchema, HeldCallEventSchema]);

export type SessionEvent = z.infer<typeof SessionEventSchema>;
export type HeldCallEvent = z.infer<typeof HeldCallEventSchema>;
export type RetryOutcome = z.infer<typeof RetryOutcomeSchema>;
export type ChannelEvent = z.infer<typeof ChannelEventSchema>;

/** An event read off the channel, or undefined for anything that is not one (only replicas publish there). */
export function parseChannelEvent(text: string): ChannelEvent | undefined {
  try {
    const parsed = ChannelEventSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function isSessionEvent(event: ChannelEvent): event is SessionEvent {
  return "session" in event;
}
