// Client authentication: every /mcp request carries `Authorization: Bearer <JWT>` signed by a key
// of the configured JWKS, from the configured issuer, for this gateway's audience.
import type { IncomingHttpHeaders } from "node:http";
import { jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { VerifiedTokens } from "./verified-tokens.js";

export interface BearerConfig {
  keys: JWTVerifyGetKey;
  issuer: string;
  audience: string;
  /** Tokens verified lately; one per config, since what verifies depends on it. */
  verified?: VerifiedTokens;
}

/** Why a request was not authenticated; `invalid` means a token was given but failed checks. */
export type BearerOutcome = { ok: true; claims: JWTPayload } | { ok: false; invalid: boolean; reason: string };

const BEARER = /^Bearer\s+([A-Za-z0-9\-._~+/]+=*)\s*$/i;

export async function verifyBearer(headers: IncomingHttpHeaders, config: BearerConfig): Promise<BearerOutcome> {
  const header = headers.authorization;
  if (!header) return { ok: false, invalid: false, reason: "missing bearer token" };
  const match = BEARER.exec(header);
  if (!match) return { ok: false, invalid: true, reason: "malformed Authorization header" };
  const token = match[1] as string;
  const known = config.verified?.get(token);
  if (known) return { ok: true, claims: known };
  try {
    // exp: a token that never expires cannot be revoked; sub: sessions belong to it.
    const { payload } = await jwtVerify(token, config.keys, { issuer: config.issuer, audience: config.audience, requiredClaims: ["exp", "sub"] });
    config.verified?.set(token, payload);
    return { ok: true, claims: payload };
  } catch (err) {
    // jose's messages describe the failed check (signature, exp, iss, aud), never the token itself.
    return { ok: false, invalid: true, reason: (err as Error).message };
  }
}
