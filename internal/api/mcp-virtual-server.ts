// MCPVirtualServer (mcpvs): a named subset of the gateway's tools, chosen by clients with X-Mcp-Virtualserver.
import { z } from "zod";
import { ConditionsSchema } from "./condition.js";

export const MCPVirtualServerSpecSchema = z.object({
  description: z.string().optional().meta({ description: "What this virtual server is for." }),
  tools: z.array(z.string().min(1)).min(1).meta({ description: "Exposed (prefixed) tool names this virtual server shows." }),
  prompts: z.array(z.string().min(1)).optional().meta({ description: "Exposed (prefixed) prompt names this virtual server shows; none when absent." }),
  resources: z
    .array(z.string().min(1))
    .optional()
    .meta({ description: "Resource URIs and resource templates (as the servers list them) this virtual server shows; none when absent." }),
});

export const MCPVirtualServerStatusSchema = z.object({
  conditions: ConditionsSchema.optional(),
  observedGeneration: z.number().int().min(0).optional().meta({ description: "The .metadata.generation last reconciled." }),
});

export type MCPVirtualServerSpec = z.infer<typeof MCPVirtualServerSpecSchema>;
export type MCPVirtualServerStatus = z.infer<typeof MCPVirtualServerStatusSchema>;
