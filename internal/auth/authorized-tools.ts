// The x-authorized-tools header: an ES256 JWT from a trusted issuer (typically an authorization
// policy in front of the gateway) whose `allowed-tools` (or `tools`) claim lists the tools and
// prompts (exposed names) and resources (URIs or URI templates) the caller may see. Only ES256 is
// accepted, so a token signed any other way is refused outright. A grant is short-lived (exp, and
// iat within the maximum age), meant for this gateway (aud) and, with client authentication on,
// for the caller who presents it (sub equal to the bearer's): a header copied from another user or
// minted for another service grants nothing.
import type { IncomingHttpHeaders } from "node:http";
import { jwtVerify, type JWTVerifyGetKey } from "jose";
import { GrantsByClaims, type ToolGrant, toolsFromClaim } from "./tool-grant.js";
import { VerifiedTokens } from "./verified-tokens.js";

export const AUTHORIZED_TOOLS_HEADER = "x-authorized-tools";

export interface AuthorizedToolsConfig {
  keys: JWTVerifyGetKey;
  issuer: string;
  audience: string;
  /** Oldest grant accepted, by its iat. */
  maxAgeSeconds: number;
  /** Grants verified lately (per caller: the sub binding is part of what was verified). */
  verified?: VerifiedTokens;
}

const headerGrants = new GrantsByClaims();

export type AuthorizedToolsOutcome = { ok: true; grant: ToolGrant } | { ok: false; reason: string };

/** `subject`: the verified bearer's sub when client authentication is on; the grant must name it. */
export async function verifyAuthorizedTools(headers: IncomingHttpHeaders, config: AuthorizedToolsConfig, subject?: string): Promise<AuthorizedToolsOutcome> {
  const token = headers[AUTHORIZED_TOOLS_HEADER];
  if (typeof token !== "string" || token === "") return { ok: false, reason: `missing ${AUTHORIZED_TOOLS_HEADER} header` };
  const cacheKey = `${subject ?? ""}\n${token}`;
  try {
    let payload = config.verified?.get(cacheKey, config.maxAgeSeconds);
    if (!payload) {
      ({ payload } = await jwtVerify(token, config.keys, {
        issuer: config.issuer,
        audience: config.audience,
        algorithms: ["ES256"],
        requiredClaims: ["exp", "iat"],
        maxTokenAge: config.maxAgeSeconds,
        ...(subject === undefined ? {} : { subject }),
      }));
      config.verified?.set(cacheKey, payload);
    }
    const tools = toolsFromClaim(payload["allowed-tools"] ?? payload.tools);
    if (!tools) return { ok: false, reason: `${AUTHORIZED_TOOLS_HEADER}: claim allowed-tools must list tool names` };
    return { ok: true, grant: headerGrants.of(payload, () => tools) };
  } catch (err) {
    return { ok: false, reason: `${AUTHORIZED_TOOLS_HEADER}: ${(err as Error).message}` };
  }
}
