// Hands the verified grant from the HTTP guard to the protocol handler. The transport passes the
// request's headers object through untouched, so it is the key; a WeakMap lets it go with the request.
// Keeping this out of the headers themselves means a client cannot forge a grant with a header.
import type { IncomingHttpHeaders } from "node:http";
import type { ToolGrant } from "./tool-grant.js";

const grants = new WeakMap<IncomingHttpHeaders, ToolGrant>();

export function attachGrant(headers: IncomingHttpHeaders, grant: ToolGrant): void {
  grants.set(headers, grant);
}

export function grantOf(headers: IncomingHttpHeaders): ToolGrant | undefined {
  return grants.get(headers);
}
