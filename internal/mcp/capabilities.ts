// Capability objects as MCP peers declare them (ServerCapabilities, ClientCapabilities): nested
// objects whose keys are features (`tools`, `resources`, `extensions`, ...) and whose leaves are
// flags (`listChanged`, `subscribe`) or settings.
import { isObject } from "./jsonrpc.js";

/**
 * What one peer offers in two declarations (a both-era server's `initialize` and `server/discover`
 * answers): every feature either names, at every depth, so an `extensions` object in one does not
 * hide the other's entries. A flag is on when either says so; of other leaves, `first`'s wins.
 */
export function unionCapabilities(first: Record<string, unknown>, second: Record<string, unknown>): Record<string, unknown> {
  const union: Record<string, unknown> = { ...second, ...first };
  for (const key of Object.keys(second)) {
    if (!Object.hasOwn(first, key)) continue;
    const [a, b] = [first[key], second[key]];
    if (isObject(a) && isObject(b)) union[key] = unionCapabilities(a, b);
    else if (typeof a === "boolean" && typeof b === "boolean") union[key] = a || b;
  }
  return union;
}

/** The server-to-client requests of the session era; in 2026-07-28 the input requests of an InputRequiredResult. */
export const ClientRequestMethod = { Elicit: "elicitation/create", Sample: "sampling/createMessage", ListRoots: "roots/list" } as const;
const CLIENT_REQUEST_METHODS: ReadonlySet<string> = new Set(Object.values(ClientRequestMethod));

export function isClientRequestMethod(method: string): boolean {
  return CLIENT_REQUEST_METHODS.has(method);
}

/**
 * The client capabilities a server-to-client request (one of ClientRequestMethod) needs that
 * `declared` lacks, as a ClientCapabilities object; undefined when none. Mode-aware as MCP
 * 2025-11-25 asks of servers: URL-mode elicitation needs `elicitation.url`, form mode
 * `elicitation.form` or a bare `elicitation` (the spec's reading for backwards compatibility),
 * sampling with tools `sampling.tools`.
 */
export function missingClientCapabilities(method: string, params: Record<string, unknown> | undefined, declared: Record<string, unknown>): Record<string, object> | undefined {
  const needs = (capability: string, member?: string): Record<string, object> | undefined => {
    const value = declared[capability];
    if (isObject(value) && (member === undefined || value[member] !== undefined)) return undefined;
    // A bare `elicitation` is form mode: it serves form unless it names only url.
    if (isObject(value) && member === "form" && value.url === undefined) return undefined;
    // A client without the capability at all needs the bare one for form mode.
    return { [capability]: member === undefined || (member === "form" && !isObject(value)) ? {} : { [member]: {} } };
  };
  switch (method) {
    case ClientRequestMethod.Elicit:
      return needs("elicitation", params?.mode === "url" ? "url" : "form");
    case ClientRequestMethod.Sample:
      return needs("sampling", params?.tools !== undefined || params?.toolChoice !== undefined ? "tools" : undefined);
    default:
      return needs("roots");
  }
}

/** Client capabilities an upstream may use outside a call: the client can answer its sampling, elicitation or roots requests. */
export function answersUpstreamRequests(capabilities: Record<string, unknown>): boolean {
  return capabilities.sampling !== undefined || capabilities.elicitation !== undefined || capabilities.roots !== undefined;
}
