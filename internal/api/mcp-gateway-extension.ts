// MCPGatewayExtension: says which Gateway (and listener) an MCP gateway instance serves.
import { z } from "zod";
import { ConditionsSchema } from "./condition.js";
import { GATEWAY_API_GROUP } from "./group.js";

export const GatewayTargetRefSchema = z
  .object({
    group: z.literal(GATEWAY_API_GROUP).default(GATEWAY_API_GROUP).meta({ description: "API group of the target; only gateway.networking.k8s.io." }),
    kind: z.literal("Gateway").default("Gateway").meta({ description: "Kind of the target; only Gateway." }),
    name: z.string().min(1).max(253).meta({ description: "Name of the Gateway." }),
    namespace: z.string().min(1).max(63).optional().meta({ description: "Namespace of the Gateway; defaults to the extension's. A different namespace needs a ReferenceGrant there." }),
    sectionName: z.string().min(1).max(253).optional().meta({ description: "Name of the Gateway listener to use; any listener when unset." }),
  })
  .meta({ description: "The Gateway this extension serves." });

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

export const MCPGatewayExtensionSpecSchema = z.object({
  targetRef: GatewayTargetRefSchema,
  publicHost: z.string().optional().meta({ description: "Host name clients use to reach the gateway (for OAuth protected-resource metadata)." }),
  privateHost: z.string().optional().meta({ description: "Host name the broker is reached by inside the cluster." }),
  backendPingIntervalSeconds: z.number().int().min(10).max(7200).default(60).meta({ description: "How often the broker re-lists each upstream server (its health check)." }),
  oauthProtectedResource: OAuthProtectedResourceSchema.optional(),
});

export const MCPGatewayExtensionStatusSchema = z.object({
  conditions: ConditionsSchema.optional(),
  observedGeneration: z.number().int().min(0).optional().meta({ description: "The .metadata.generation last reconciled." }),
});

export type OAuthProtectedResource = z.infer<typeof OAuthProtectedResourceSchema>;
export type MCPGatewayExtensionSpec = z.infer<typeof MCPGatewayExtensionSpecSchema>;
export type MCPGatewayExtensionStatus = z.infer<typeof MCPGatewayExtensionStatusSchema>;
