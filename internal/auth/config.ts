// Turns the auth flags into guard and metadata settings. Everything is off unless a JWKS is
// named; once one is, the checks it needs (issuer, audience) must be named too, so a half
// configured gateway refuses to start instead of accepting tokens minted for someone else.
import type { BrokerOptions } from "../config/broker-options.js";
import type { AuthGuardConfig } from "./guard.js";
import { keySource } from "./keys.js";
import { ProtectedResourceMetadata } from "./protected-resource.js";
import { VerifiedTokens } from "./verified-tokens.js";

export interface AuthSettings {
  guard: AuthGuardConfig;
  /** Set when client authentication is on: the RFC 9728 document is served then. */
  protectedResource?: ProtectedResourceMetadata;
}

export function authSettings(options: BrokerOptions): AuthSettings {
  const guard: AuthGuardConfig = {};
  let protectedResource: ProtectedResourceMetadata | undefined;
  const clientKeys = keySource(options["auth-jwks-url"], options["auth-jwks-file"], "client authentication");
  if (clientKeys) {
    if (!options["auth-issuer"] || !options["auth-audience"]) throw new Error("client authentication needs --auth-issuer and --auth-audience");
    protectedResource = new ProtectedResourceMetadata({
      resource: options["auth-resource"] || `http://${options["mcp-broker-public-address"]}/mcp`,
      authorizationServers: options["auth-authorization-servers"],
      scopes: options["auth-scopes"],
    });
    guard.bearer = {
      keys: clientKeys,
      issuer: options["auth-issuer"],
      audience: options["auth-audience"],
      verified: new VerifiedTokens(),
      metadata: protectedResource,
      toolsClaim: options["auth-tools-claim"],
    };
  } else if (options["auth-tools-claim"]) {
    throw new Error("--auth-tools-claim needs client authentication (--auth-jwks-url or --auth-jwks-file)");
  }
  const toolKeys = keySource(options["authorized-tools-jwks-url"], options["authorized-tools-jwks-file"], "x-authorized-tools");
  if (toolKeys) {
    if (!options["authorized-tools-issuer"]) throw new Error("x-authorized-tools verification needs --authorized-tools-issuer");
    const audience = options["authorized-tools-audience"] || options["auth-audience"];
    // A grant minted for another service must not open this gateway.
    if (!audience) throw new Error("x-authorized-tools verification needs --authorized-tools-audience (or --auth-audience)");
    guard.authorizedTools = { keys: toolKeys, issuer: options["authorized-tools-issuer"], audience, maxAgeSeconds: options["authorized-tools-max-age-seconds"], verified: new VerifiedTokens() };
  }
  return { guard, protectedResource };
}
