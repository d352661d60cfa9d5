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

export const MCPGatewayExtensionSpecSchema = z.object({
  targetRef: GatewayTargetRefSchema,
  publicHost: z.string().optional().meta({ description: "Host name clients use to reach the gateway (for OAuth protected-resource metadata)." }),
  privateHost: z.string().optional().meta({ description: "Host name the broker is reached by inside the cluster." }),
  backendPingIntervalSeconds: z.number().int().min(10).max(7200).default(60).meta({ description: "How often the broker re-lists each upstream server (its health check)." }),
});

export const MCPGatewayExtensionStatusSchema = z.object({
  conditions: ConditionsSchema.optional(),
  observedGeneration: z.number().int().min(0).optional().meta({ description: "The .metadata.generation last reconciled." }),
});

export type MCPGatewayExtensionSpec = z.infer<typeof MCPGatewayExtensionSpecSchema>;
export type MCPGatewayExtensionStatus = z.infer<typeof MCPGatewayExtensionStatusSchema>;
