// MCPServerRegistration (mcpsr): registers the MCP server behind an HTTPRoute with the gateway.
import { z } from "zod";
import { ConditionsSchema } from "./condition.js";
import { GATEWAY_API_GROUP } from "./group.js";
import { LabelSelectorSchema } from "./label-selector.js";

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

export const ConfigMapKeyRefSchema = z
  .object({
    name: z.string().min(1).max(253).meta({ description: "Name of a ConfigMap in the registration's namespace." }),
    key: z.string().min(1).max(253).meta({ description: "Key in the ConfigMap whose value is the document, as JSON or YAML." }),
  })
  .meta({ description: "The OpenAPI 3.0/3.1 document in a ConfigMap; the controller copies it into the registry, and an edit of the ConfigMap reaches the broker." });

export const RegistrationOpenApiSchema = z
  .object({
    documentPath: z.string().startsWith("/").optional().meta({ description: "Path of the OpenAPI 3.0/3.1 document on the REST backend, e.g. /openapi.json; fetched with the credential." }),
    configMapRef: ConfigMapKeyRefSchema.optional(),
  })
  .refine((openapi) => (openapi.documentPath === undefined) !== (openapi.configMapRef === undefined), { message: "exactly one of documentPath and configMapRef must be set" })
  .meta({
    description: "For transport openapi: where the document whose operations become tools is.",
    "x-kubernetes-validations": [{ rule: "has(self.documentPath) != has(self.configMapRef)", message: "exactly one of documentPath and configMapRef must be set" }],
  });

/** On a selected HTTPRoute: the prefix of its server's names, instead of the one derived from the route's name. */
export const ROUTE_TOOL_PREFIX_ANNOTATION = "mcp.kagenti.com/tool-prefix";

export const MCPServerRegistrationSpecSchema = z
  .object({
    targetRef: RouteTargetRefSchema.optional(),
    routeSelector: LabelSelectorSchema.optional().meta({
      description: `Registers every HTTPRoute in the registration's namespace whose labels match, each as its own server, instead of one targetRef. A route's server is named after the route; its prefix is toolPrefix followed by the route's name (letters, digits, _ and - kept, others turned into _) and _, or the route's ${ROUTE_TOOL_PREFIX_ANNOTATION} annotation. Routes that gain or lose the labels come and go.`,
    }),
    toolPrefix: z.string().max(64).regex(new RegExp(TOOL_PREFIX_PATTERN)).optional().meta({
      description:
        "Prepended to the server's tool and prompt names (with routeSelector: to each selected route's prefix). Letters, digits, _ and - only; cannot change once set to a non-empty value. Unique per gateway: a non-empty prefix that starts another server's prefix (or equals it), or two empty prefixes, conflict, and the server registered later is refused (Ready=False, reason PrefixConflict) while the conflict lasts.",
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
      { rule: "has(self.targetRef) != has(self.routeSelector)", message: "exactly one of targetRef and routeSelector must be set" },
      {
        rule: "!has(oldSelf.toolPrefix) || oldSelf.toolPrefix == '' || (has(self.toolPrefix) && self.toolPrefix == oldSelf.toolPrefix)",
        message: "toolPrefix is immutable once set",
      },
    ],
  });

const TransportInUseSchema = z.string().meta({ description: "The transport the broker talks to the server: spec.transport, or for auto the one it detected (absent until it got through)." });

const PROTOCOL_VERSIONS =
  "MCP revisions the broker speaks with the server, newest first: 2026-07-28 when it reaches the server per request (no upstream sessions), then the session-era revision of its upstream sessions (absent until it got through).";
const ProtocolVersionsSchema = z.array(z.string()).meta({ description: `The ${PROTOCOL_VERSIONS}` });

export const ServerStatusSchema = z.object({
  name: z.string().min(1).meta({ description: "The HTTPRoute this server is reached through." }),
  toolPrefix: z.string().meta({ description: "Prefix of this server's tool and prompt names." }),
  discoveredTools: z.number().int().min(0).meta({ description: "Tools the broker discovered on this server." }),
  transport: TransportInUseSchema.optional(),
  protocolVersions: ProtocolVersionsSchema.optional(),
  conditions: ConditionsSchema,
});

export const MCPServerRegistrationStatusSchema = z.object({
  conditions: ConditionsSchema.optional(),
  observedGeneration: z.number().int().min(0).optional().meta({ description: "The .metadata.generation last reconciled." }),
  discoveredTools: z.number().int().min(0).optional().meta({ description: "Tools the broker discovered on the server (with routeSelector: on all selected servers)." }),
  transport: TransportInUseSchema.optional().meta({ description: "With targetRef: the transport the broker talks to the server: spec.transport, or for auto the one it detected (absent until it got through). With routeSelector: see servers." }),
  protocolVersions: ProtocolVersionsSchema.optional().meta({ description: `With targetRef: the ${PROTOCOL_VERSIONS} With routeSelector: see servers.` }),
  servers: z
    .array(ServerStatusSchema)
    .optional()
    .meta({ description: "With routeSelector: one entry per selected HTTPRoute.", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] }),
  readyServers: z.string().optional().meta({ description: 'Servers in use of those registered, e.g. "2/3".' }),
});

export type MCPServerRegistrationSpec = z.infer<typeof MCPServerRegistrationSpecSchema>;
export type MCPServerRegistrationStatus = z.infer<typeof MCPServerRegistrationStatusSchema>;
export type ServerStatus = z.infer<typeof ServerStatusSchema>;
