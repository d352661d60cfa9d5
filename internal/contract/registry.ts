// The registry the broker serves: which upstream MCP servers exist, which virtual servers
// narrow them, and the extension's OAuth protected-resource metadata and ping interval. The controller writes it
// (Secret `mcp-gateway-config`, key `config.yaml`) and a laptop user writes it by hand; both go
// through this one schema.
import { z } from "zod";
import { OAuthProtectedResourceSchema } from "./oauth-protected-resource.js";

/** How the broker reaches a server; absent means streamable-http. */

/** Where the controller writes each extension namespace's registry, and the broker reads it. */
export const REGISTRY_SECRET_NAME = "mcp-gateway-config";
export const REGISTRY_SECRET_KEY = "config.yaml";

export const UpstreamTransportSchema = z.enum(["streamable-http", "sse", "auto", "stdio", "openapi"]);

export const OpenApiSourceSchema = z
  .object({
    /** An http(s) URL, a file path, the document itself as JSON or YAML text, or as an object (inline, e.g. from a ConfigMap). */
    document: z.union([z.string().min(1), z.record(z.string(), z.unknown())]).optional(),
    /** A path on the REST backend (resolved against the server's url), e.g. /openapi.json. */
    documentPath: z.string().startsWith("/").optional(),
  })
  .refine((source) => (source.document === undefined) !== (source.documentPath === undefined), "set exactly one of document and documentPath");

const RegistryServerFieldsSchema = z.object({
  /** `<namespace>/<registration name>`; unique within the registry. */
  name: z.string().min(1),
  transport: UpstreamTransportSchema.optional(),
  /** Where the broker opens its MCP sessions (sse: the SSE endpoint; openapi: the REST base URL). Absent for stdio. */
  url: z.url({ protocol: /^https?$/ }).optional(),
  /** stdio: the program the broker runs, one process per upstream session. */
  command: z.string().min(1).optional(),
  args: z.array(z.string()).optional(),
  /** stdio: added to the broker's environment for the process. */
  env: z.record(z.string(), z.string()).optional(),
  /** openapi: the document whose operations become tools. */
  openapi: OpenApiSourceSchema.optional(),
  /** The HTTPRoute hostname the server is published under (informational for the broker). */
  hostname: z.string().default(""),
  /** Prepended to every tool and prompt name the server lists. */
  toolPrefix: z.string().default(""),
  /** Sent as the `Authorization` header on every request to this server. Secret: never logged. */
  credential: z.string().optional(),
  /** Forward the client's own `Authorization` header when no credential is configured. */
  forwardClientAuthorization: z.boolean().default(false),
  enabled: z.boolean().default(true),
});

export const RegistryServerSchema = RegistryServerFieldsSchema.superRefine((server, ctx) => {
  const transport = server.transport ?? "streamable-http";
  const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
  if (transport === "stdio") {
    if (!server.command) issue("command", "a stdio server needs a command");
    if (server.url !== undefined) issue("url", "a stdio server has no url (the broker runs its command)");
  } else {
    if (server.url === undefined) issue("url", `transport ${transport} needs a url`);
    for (const field of ["command", "args", "env"] as const) if (server[field] !== undefined) issue(field, `${field} is only for stdio servers`);
  }
  if (transport === "openapi" && !server.openapi) issue("openapi", "an openapi server needs openapi.document or openapi.documentPath");
  if (transport !== "openapi" && server.openapi) issue("openapi", "openapi is only for openapi servers");
});

export const VirtualServerSchema = z.object({
  /** `<namespace>/<name>`, as clients send it in `X-Mcp-Virtualserver`. */
  name: z.string().min(1),
  description: z.string().optional(),
  /** Exposed (prefixed) tool names this virtual server shows. */
  tools: z.array(z.string()).default([]),
  /** Exposed (prefixed) prompt names it shows; none when empty. */
  prompts: z.array(z.string()).default([]),
  /** Resource URIs and resource templates (as listed) it shows; none when empty. */
  resources: z.array(z.string()).default([]),
});

export const RegistrySchema = z
  .object({
    servers: z.array(RegistryServerSchema).nullish().transform((v) => v ?? []),
    virtualServers: z.array(VirtualServerSchema).nullish().transform((v) => v ?? []),
    /** The MCPGatewayExtension's RFC 9728 values; each set field overrides the broker's flag. */
    oauthProtectedResource: OAuthProtectedResourceSchema.optional(),
    /** The MCPGatewayExtension's backendPingIntervalSeconds; overrides the broker's --refresh-interval-seconds. */
    backendPingIntervalSeconds: z.number().int().positive().optional(),
  })
  .superRefine((registry, ctx) => {
    for (const [key, list] of [
      ["servers", registry.servers],
      ["virtualServers", registry.virtualServers],
    ] as const) {
      const seen = new Set<string>();
      for (const [index, entry] of list.entries()) {
        if (seen.has(entry.name)) ctx.addIssue({ code: "custom", path: [key, index, "name"], message: `duplicate name ${entry.name}` });
        seen.add(entry.name);
      }
    }
  });

export type RegistryServer = z.infer<typeof RegistryServerSchema>;
export type UpstreamTransport = z.infer<typeof UpstreamTransportSchema>;
export type OpenApiSource = z.infer<typeof OpenApiSourceSchema>;
export type VirtualServer = z.infer<typeof VirtualServerSchema>;
export type Registry = z.infer<typeof RegistrySchema>;

export const EMPTY_REGISTRY: Registry = { servers: [], virtualServers: [] };
