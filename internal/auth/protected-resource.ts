// RFC 9728 protected resource metadata: how an OAuth client learns which authorization server
// issues tokens for this gateway. Its URL is named in every 401's WWW-Authenticate header.
import type { OAuthProtectedResource } from "../contract/oauth-protected-resource.js";

/** The values the flags give (--auth-resource, --auth-authorization-servers, --auth-scopes). */
export interface ProtectedResource {
  /** The resource identifier clients request tokens for (RFC 8707), e.g. https://gw.example/mcp. */
  resource: string;
  authorizationServers: string[];
  scopes: string[];
}

export const METADATA_PATH = "/.well-known/oauth-protected-resource";

/**
 * The metadata in force: the flags' values, each replaced by the registry's (the
 * MCPGatewayExtension's) when it sets one. The registry is watched, so this changes at run time.
 */
export class ProtectedResourceMetadata {
  private fromRegistry: OAuthProtectedResource = {};

  constructor(private readonly fromFlags: ProtectedResource) {}

  applyRegistry(section: OAuthProtectedResource | undefined): void {
    this.fromRegistry = section ?? {};
  }

  document(): Record<string, unknown> {
    const registry = this.fromRegistry;
    const scopes = registry.scopesSupported ?? this.fromFlags.scopes;
    return {
      resource: this.resource(),
      authorization_servers: registry.authorizationServers ?? this.fromFlags.authorizationServers,
      bearer_methods_supported: ["header"],
      ...(scopes.length > 0 ? { scopes_supported: scopes } : {}),
      ...(registry.resourceDocumentation ? { resource_documentation: registry.resourceDocumentation } : {}),
    };
  }

  /** The metadata lives at the resource's origin; clients fetch it from there. */
  url(): string {
    return new URL(METADATA_PATH, this.resource()).toString();
  }

  private resource(): string {
    return this.fromRegistry.resource ?? this.fromFlags.resource;
  }
}
