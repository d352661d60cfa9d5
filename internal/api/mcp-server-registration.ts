// MCPServerRegistration (mcpsr): registers the MCP server behind an HTTPRoute with the gateway.
import { z } from "zod";
import { ConditionsSchema } from "./condition.js";
import { GATEWAY_API_GROUP } from "./group.js";

/** Exposed names must stay valid for common clients (`^[a-zA-Z0-9_-]{1,64}$`), so the prefix uses the same letters. */
export const TOOL_PREFIX_PATTERN = "^[A-Za-z0-9_-]*$";

export const RouteTargetRefSchema = z
  .object({
    group: z.literal(GATEWAY_API_GROUP).default(GATEWAY_API_GROUP).meta({ description: "API group of the target; only gateway.networking.k8s.io." }),
    kind: z.literal("HTTPRoute").default("HTTPRoute").meta({ description: "Kind of the target; only HTTPRoute." }),
    name: z.string().min(1).max(253).meta({ description: "Name of the HTTPRoute." }),
    namespace: z.string().min(1).max(63).optional().meta({ description: "Namespace of the HTTPRoute; defaults to the registration's. A different namespace needs a ReferenceGrant there." }),
  })
  .meta({ description: "The HTTPRoute that routes to the MCP server." });

export const CredentialRefSchema = z
  .object({
    name: z.string().min(1).max(253).meta({ description: "Name of a Secret in the registration's namespace." }),
    key: z.string().min(1).default("token").meta({ description: "Key in the Secret whose value is sent as the Authorization header." }),
  })
  .meta({ description: "Credential the broker sends to the server, for discovery and for clients' calls." });

export const RegistrationOpenApiSchema = z
  .object({
    documentPath: z.string().startsWith("/").meta({ description: "Path of the OpenAPI 3.0/3.1 document on the REST backend, e.g. /openapi.json; fetched with the credential." }),
  })
  .meta({ description: "For transport openapi: where the document whose operations become tools is." });

export const MCPServerRegistrationSpecSchema = z
  .object({
    targetRef: RouteTargetRefSchema,
    toolPrefix: z.string().max(64).regex(new RegExp(TOOL_PREFIX_PATTERN)).optional().meta({
      description: "Prepended to the server's tool and prompt names. Letters, digits, _ and - only; cannot change once set to a non-empty value.",
    }),
    path: z.string().startsWith("/").default("/mcp").meta({ description: "Path of the server's MCP endpoint." }),
    credentialRef: CredentialRefSchema.optional(),
    transport: z.enum(["streamable-http", "sse", "auto", "openapi"]).optional().meta({
      description:
        "How the broker talks to the server: streamable-http (the default); sse, the legacy HTTP+SSE transport (path is then the SSE endpoint, e.g. /sse); auto, Streamable HTTP and legacy SSE on a 4xx; openapi, a REST API whose OpenAPI operations become tools (path is then the REST base path).",
    }),
    openapi: RegistrationOpenApiSchema.optional(),
  })
  .refine((spec) => (spec.transport === "openapi") === (spec.openapi !== undefined), { message: "openapi is set exactly when transport is openapi", path: ["openapi"] })
  .meta({
    "x-kubernetes-validations": [
      { rule: "(has(self.transport) && self.transport == 'openapi') == has(self.openapi)", message: "openapi is set exactly when transport is openapi" },
      {
        rule: "!has(oldSelf.toolPrefix) || oldSelf.toolPrefix == '' || (has(self.toolPrefix) && self.toolPrefix == oldSelf.toolPrefix)",
        message: "toolPrefix is immutable once set",
      },
    ],
  });

export const MCPServerRegistrationStatusSchema = z.object({
  conditions: ConditionsSchema.optional(),
  observedGeneration: z.number().int().min(0).optional().meta({ description: "The .metadata.generation last reconciled." }),
  discoveredTools: z.number().int().min(0).optional().meta({ description: "Tools the broker discovered on the server." }),
});

export type MCPServerRegistrationSpec = z.infer<typeof MCPServerRegistrationSpecSchema>;
export type MCPServerRegistrationStatus = z.infer<typeof MCPServerRegistrationStatusSchema>;
