// Runs before the MCP transport: authenticates the client, verifies the tool grants, and answers
// 401 itself when either fails, so an unauthenticated request never reaches a session or upstream.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../log/logger.js";
import { errorResponse, ErrorCode } from "../mcp/jsonrpc.js";
import { writeJson } from "../transport/json-response.js";
import { verifyAuthorizedTools, type AuthorizedToolsConfig } from "./authorized-tools.js";
import { verifyBearer, type BearerConfig } from "./bearer.js";
import type { ProtectedResourceMetadata } from "./protected-resource.js";
import { attachVerified, type Identity } from "./request-grants.js";
import { GrantsByClaims, ToolGrant, toolsFromClaim } from "./tool-grant.js";

export interface AuthGuardConfig {
  bearer?: BearerConfig & {
    /** The RFC 9728 metadata, whose URL every challenge names; it may change with the registry. */
    metadata: ProtectedResourceMetadata;
    /** Claim of the client token listing the tools and prompts it may use; empty = no limit from the token. */
    toolsClaim: string;
  };
  authorizedTools?: AuthorizedToolsConfig;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** 401, the request body drained unread so the connection can serve the next request. */
function unauthorized(req: IncomingMessage, res: ServerResponse, message: string, wwwAuthenticate?: string): void {
  req.resume();
  const body = JSON.stringify(errorResponse(null, ErrorCode.InvalidRequest, message));
  writeJson(res, 401, body, wwwAuthenticate ? { "www-authenticate": wwwAuthenticate } : {});
}

export function authGuard(config: AuthGuardConfig, next: Handler, log: Logger): Handler {
  if (!config.bearer && !config.authorizedTools) return next;
  // Built per refusal: the metadata URL follows the registry.
  const claimGrants = new GrantsByClaims();
  const challenge = () => (config.bearer ? `Bearer resource_metadata="${config.bearer.metadata.url()}"` : undefined);
  return async (req, res) => {
    let grant: ToolGrant | undefined;
    let identity: Identity | undefined;
    if (config.bearer) {
      const outcome = await verifyBearer(req.headers, config.bearer);
      if (!outcome.ok) {
        // Only the reason is logged: tokens and headers stay out of log lines.
        log.debug({ reason: outcome.reason }, "client authentication failed");
        const header = outcome.invalid ? `${challenge()}, error="invalid_token"` : challenge();
        unauthorized(req, res, `Unauthorized: ${outcome.invalid ? "invalid token" : "bearer token required"}`, header);
        return;
      }
      identity = { issuer: String(outcome.claims.iss), subject: String(outcome.claims.sub) };
      if (config.bearer.toolsClaim) {
        const claim = outcome.claims[config.bearer.toolsClaim];
        if (claim !== undefined) {
          // A claim that is there but unreadable grants nothing rather than everything.
          grant = claimGrants.of(outcome.claims, () => toolsFromClaim(claim) ?? []);
        }
      }
    }
    if (config.authorizedTools) {
      const outcome = await verifyAuthorizedTools(req.headers, config.authorizedTools, identity?.subject);
      if (!outcome.ok) {
        log.debug({ reason: outcome.reason }, "tool authorization failed");
        unauthorized(req, res, `Unauthorized: ${outcome.reason}`, challenge());
        return;
      }
      grant = outcome.grant.intersect(grant);
    }
    if (grant || identity) attachVerified(req.headers, { grant, identity });
    await next(req, res);
  };
}
