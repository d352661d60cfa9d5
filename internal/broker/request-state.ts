// The gateway's own requestState around an upstream's (MCP 2026-07-28 multi round-trip requests):
// an InputRequiredResult's state is wrapped, signed with the session-id keys (shared by every
// replica, so a retry may land on any), naming the upstream server, the caller, the request
// (method and name) and an expiry; a retry's state is unwrapped back to the upstream's own. A
// state that was altered, is not the gateway's, has expired, or comes with another caller or
// another request is refused, so a retry reaches exactly the upstream that asked and nobody
// else's state is ever replayed. Input request keys need no rewriting: one request reaches one
// upstream, and the state binds its retry to that upstream.
import { ErrorCode, JsonRpcError } from "../mcp/jsonrpc.js";

/** What a state is bound to. */
export interface StateOrigin {
  server: string;
  caller: string;
  method: string;
  name: string;
}

export interface StateSigner {
  signFor(purpose: string, body: string): string;
  verifiesFor(purpose: string, body: string, signature: string): boolean;
}

const PURPOSE = "mcp-request-state";

/** How long a client may take to answer an InputRequiredResult before its retry is refused. */
export const REQUEST_STATE_TTL_MS = 60 * 60 * 1000;
const PREFIX = "gw1.";

function refused(reason: string): JsonRpcError {
  return new JsonRpcError(ErrorCode.InvalidParams, `Invalid params: requestState ${reason}`);
}

export class RequestStates {
  constructor(
    private readonly signer: StateSigner,
    /** How long a client may take to answer an InputRequiredResult. */
    private readonly ttlMs: number,
  ) {}

  /** The state the client gets for an upstream's InputRequiredResult (whose own state may be absent). */
  seal(origin: StateOrigin, upstreamState: string | undefined): string {
    const expires = Math.ceil((Date.now() + this.ttlMs) / 1000);
    const body = Buffer.from(JSON.stringify([origin.server, origin.caller, origin.method, origin.name, expires, upstreamState ?? null])).toString("base64url");
    return `${PREFIX}${body}.${this.signer.signFor(PURPOSE, body)}`;
  }

  /** The upstream's own state inside a retry's state (undefined when it had none); refuses anything else. */
  open(state: unknown, origin: StateOrigin): string | undefined {
    if (typeof state !== "string" || !state.startsWith(PREFIX)) throw refused("was not issued by this gateway");
    const [body = "", signature = "", ...rest] = state.slice(PREFIX.length).split(".");
    if (rest.length > 0 || !this.signer.verifiesFor(PURPOSE, body, signature)) throw refused("was not issued by this gateway or was altered");
    const [server, caller, method, name, expires, upstreamState] = JSON.parse(Buffer.from(body, "base64url").toString()) as [string, string, string, string, number, string | null];
    if (expires * 1000 <= Date.now()) throw refused("has expired");
    if (server !== origin.server || method !== origin.method || name !== origin.name) throw refused("belongs to another request");
    if (caller !== origin.caller) throw refused("belongs to another caller");
    return upstreamState ?? undefined;
  }
}
