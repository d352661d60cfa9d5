// MCPGatewayExtension: says which Gateway (and listener) an MCP gateway instance serves.
import { z } from "zod";
import { ConditionsSchema } from "./condition.js";
import { OAuthProtectedResourceSchema } from "../contract/oauth-protected-resource.js";
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

/** A DNS name as Gateway API listeners take it (RFC 1123, lower case), without a wildcard or port. */
const HOSTNAME_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export const MCPGatewayExtensionSpecSchema = z.object({
  targetRef: GatewayTargetRefSchema,
  publicHost: z
    .string()
    .max(253)
    .regex(HOSTNAME_PATTERN)
    .optional()
    .meta({
      description:
        "Host name clients reach the gateway by, e.g. mcp.example.com. When oauthProtectedResource.resource is unset, the broker publishes https://{publicHost}/mcp as its RFC 9728 resource.",
    }),
  privateHost: z
    .string()
    .optional()
    .meta({
      description:
        "Accepted for manifests written for the reference implementation, which sends tool calls back through the Gateway at this host. This broker calls upstream servers directly and does not use it.",
    }),
  backendPingIntervalSeconds: z
    .number()
    .int()
    .min(10)
    .max(7200)
    .default(60)
    .meta({ description: "How often the broker re-lists each upstream server (its health check). It replaces the broker's --refresh-interval-seconds, without a restart." }),
  oauthProtectedResource: OAuthProtectedResourceSchema.optional(),
});

export const MCPGatewayExtensionStatusSchema = z.object({
  conditions: ConditionsSchema.optional(),
  observedGeneration: z.number().int().min(0).optional().meta({ description: "The .metadata.generation last reconciled." }),
});

export type MCPGatewayExtensionSpec = z.infer<typeof MCPGatewayExtensionSpecSchema>;
export type MCPGatewayExtensionStatus = z.infer<typeof MCPGatewayExtensionStatusSchema>;
