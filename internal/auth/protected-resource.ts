// RFC 9728 protected resource metadata: how an OAuth client learns which authorization server
// issues tokens for this gateway. Its URL is named in every 401's WWW-Authenticate header.
export interface ProtectedResource {
  /** The resource identifier clients request tokens for (RFC 8707), e.g. https://gw.example/mcp. */
  resource: string;
  authorizationServers: string[];
  scopes: string[];
}

export const METADATA_PATH = "/.well-known/oauth-protected-resource";

export function metadataDocument(config: ProtectedResource): Record<string, unknown> {
  return {
    resource: config.resource,
    authorization_servers: config.authorizationServers,
    bearer_methods_supported: ["header"],
    ...(config.scopes.length > 0 ? { scopes_supported: config.scopes } : {}),
  };
}

/** The metadata lives at the resource's origin; clients fetch it from there. */
export function metadataUrl(resource: string): string {
  return new URL(METADATA_PATH, resource).toString();
}
