// The gateway's own requestState (MCP 2026-07-28 multi round-trip requests), signed with the
// session-id keys (shared by every replica, so a retry may land on any), in two kinds:
// - around an upstream's InputRequiredResult (`gw1.`): naming the upstream server, the caller,
//   the request (method and name) and an expiry, with the upstream's own state inside, which a
//   retry gets unwrapped back; input request keys need no rewriting: one request reaches one
//   upstream, and the state binds its retry to that upstream;
// - for a call the gateway holds open towards a session-era upstream (`gwp1.`, the bridge of
//   broker/pending-calls.ts): naming the caller, the request, the replica holding the call, the
//   call's handle and the round of questions it answers.
// A state that was altered, is not the gateway's, has expired, or comes with another caller or
// another request is refused (-32602), so a retry reaches exactly what asked and nobody else's
// state is ever replayed.
import { ErrorCode, JsonRpcError } from "../mcp/jsonrpc.js";

/** What a state is bound to. */
export interface StateOrigin {
  server: string;
  caller: string;
  method: string;
  name: string;
}

/** Where a call the gateway holds open lives, and which of its rounds of questions a state answers. */
export interface PendingAt {
  replica: string;
  handle: string;
  round: number;
}

export interface StateSigner {
  signFor(purpose: string, body: string): string;
  verifiesFor(purpose: string, body: string, signature: string): boolean;
}

const PURPOSE = "mcp-request-state";

/** How long a client may take to answer an InputRequiredResult before its retry is refused. */
export const REQUEST_STATE_TTL_MS = 60 * 60 * 1000;
const UPSTREAM_PREFIX = "gw1.";
const PENDING_PREFIX = "gwp1.";

function refused(reason: string): JsonRpcError {
  return new JsonRpcError(ErrorCode.InvalidParams, `Invalid params: requestState ${reason}`);
}

export class RequestStates {
  constructor(
    private readonly signer: StateSigner,
    /** How long a client may take to answer an upstream's InputRequiredResult. */
    private readonly ttlMs: number,
  ) {}

  /** The state the client gets for an upstream's InputRequiredResult (whose own state may be absent). */
  seal(origin: StateOrigin, upstreamState: string | undefined): string {
    return this.sign(UPSTREAM_PREFIX, this.ttlMs, [origin.server, origin.caller, origin.method, origin.name, upstreamState ?? null]);
  }

  /** The upstream's own state inside a retry's state (undefined when it had none); refuses anything else. */
  open(state: unknown, origin: StateOrigin): string | undefined {
    const [expires, server, caller, method, name, upstreamState] = this.verified(state, UPSTREAM_PREFIX) as [number, string, string, string, string, string | null];
    check(expires, server === origin.server && method === origin.method && name === origin.name, caller === origin.caller);
    return upstreamState ?? undefined;
  }

  /** Whether a retry's state is one of a call the gateway holds open (verified by openPending, not here). */
  isPending(state: unknown): boolean {
    return typeof state === "string" && state.startsWith(PENDING_PREFIX);
  }

  /** The state the client gets when the gateway holds a call open for its answers, valid for ttlMs. */
  sealPending(origin: Omit<StateOrigin, "server">, at: PendingAt, ttlMs: number): string {
    return this.sign(PENDING_PREFIX, ttlMs, [origin.caller, origin.method, origin.name, at.replica, at.handle, at.round]);
  }

  /** Where the call a retry's state names is held; refuses what sealPending did not make for this caller and request. */
  openPending(state: unknown, origin: Omit<StateOrigin, "server">): PendingAt {
    const [expires, caller, method, name, replica, handle, round] = this.verified(state, PENDING_PREFIX) as [number, string, string, string, string, string, number];
    check(expires, method === origin.method && name === origin.name, caller === origin.caller);
    return { replica, handle, round };
  }

  private sign(prefix: string, ttlMs: number, fields: unknown[]): string {
    const body = Buffer.from(JSON.stringify([Math.ceil((Date.now() + ttlMs) / 1000), ...fields])).toString("base64url");
    return `${prefix}${body}.${this.signer.signFor(PURPOSE, body)}`;
  }

  /** The signed fields of a state of this kind, the expiry first. */
  private verified(state: unknown, prefix: string): unknown[] {
    if (typeof state !== "string" || !state.startsWith(prefix)) throw refused("was not issued by this gateway");
    const [body = "", signature = "", ...rest] = state.slice(prefix.length).split(".");
    if (rest.length > 0 || !this.signer.verifiesFor(PURPOSE, body, signature)) throw refused("was not issued by this gateway or was altered");
    return JSON.parse(Buffer.from(body, "base64url").toString()) as unknown[];
  }
}

function check(expires: number, sameRequest: boolean, sameCaller: boolean): void {
  if (expires * 1000 <= Date.now()) throw refused("has expired");
  if (!sameRequest) throw refused("belongs to another request");
  if (!sameCaller) throw refused("belongs to another caller");
}
