// The registry the broker serves: which upstream MCP servers exist, which virtual servers
// narrow them, and the extension's OAuth protected-resource metadata and ping interval. The controller writes it
// (Secret `mcp-gateway-config`, key `config.yaml`) and a laptop user writes it by hand; both go
// through this one schema.
import { z } from "zod";
import { OAuthProtectedResourceSchema } from "../api/mcp-gateway-extension.js";

export const RegistryServerSchema = z.object({
  /** `<namespace>/<registration name>`; unique within the registry. */
  name: z.string().min(1),
  /** Where the broker opens its MCP sessions to this server. */
  url: z.url({ protocol: /^https?$/ }),
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
export type VirtualServer = z.infer<typeof VirtualServerSchema>;
export type Registry = z.infer<typeof RegistrySchema>;

export const EMPTY_REGISTRY: Registry = { servers: [], virtualServers: [] };
