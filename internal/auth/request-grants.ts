// Hands what the HTTP guard verified (the tool grant, the token's subject) to the transport and the
// protocol handler. The transport passes the request's headers object through untouched, so it is
// the key; a WeakMap lets it go with the request. Keeping this out of the headers themselves means a
// client cannot forge a grant or pose as another subject with a header.
import type { IncomingHttpHeaders } from "node:http";
import type { ToolGrant } from "./tool-grant.js";

/** Who is calling, from a verified client token: sessions belong to it, rate limits count by it. */
export interface Identity {
  issuer: string;
  subject: string;
}

export interface VerifiedRequest {
  /** The tools the request may see and call; absent = no per-tool limit. */
  grant?: ToolGrant;
  identity?: Identity;
}

const verified = new WeakMap<IncomingHttpHeaders, VerifiedRequest>();

export function attachVerified(headers: IncomingHttpHeaders, request: VerifiedRequest): void {
  verified.set(headers, request);
}

export function grantOf(headers: IncomingHttpHeaders): ToolGrant | undefined {
  return verified.get(headers)?.grant;
}

export function identityOf(headers: IncomingHttpHeaders): Identity | undefined {
  return verified.get(headers)?.identity;
}

/** One string per identity ("" without client authentication), for comparing and counting. */
export function identityKey(identity: Identity | undefined): string {
  return identity ? JSON.stringify([identity.issuer, identity.subject]) : "";
}
