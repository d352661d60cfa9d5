// The RFC 9728 values an MCPGatewayExtension sets and the broker publishes: part of the
// MCPGatewayExtension spec and of the registry, so both binaries read this one schema.
import { z } from "zod";

// The API server checks the pattern on apply; the URL parser (run by the controller and the broker)
// also catches what a pattern cannot, such as a port above 65535.
const httpUrl = (description: string) =>
  z
    .url({ protocol: /^https?$/ })
    .regex(new RegExp("^https?://[^\\s#]+$"))
    .meta({ description });

/** RFC 6749 scope-token: printable ASCII except space, `"` and `\`. */
const SCOPE_PATTERN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

export const OAuthProtectedResourceSchema = z
  .object({
    resource: httpUrl("Resource identifier clients request tokens for (RFC 8707), e.g. https://mcp.example.com/mcp; an http(s) URL without fragment.").optional(),
    authorizationServers: z.array(httpUrl("Issuer URL of an authorization server.")).min(1).optional().meta({ description: "Issuer URLs of the authorization servers that grant tokens for the gateway." }),
    scopesSupported: z.array(z.string().regex(SCOPE_PATTERN).meta({ description: "A scope (RFC 6749 scope-token)." })).min(1).optional().meta({ description: "Scopes clients may request, published as scopes_supported." }),
    resourceDocumentation: httpUrl("URL of human-readable documentation of the gateway, published as resource_documentation.").optional(),
  })
  .meta({
    description:
      "RFC 9728 metadata the broker publishes at /.well-known/oauth-protected-resource when client authentication is on. Each field set here replaces the broker's flag value (--auth-resource, --auth-authorization-servers, --auth-scopes); changes apply without a restart.",
  });

export type OAuthProtectedResource = z.infer<typeof OAuthProtectedResourceSchema>;
