// What the broker tells the controller about its upstream servers: published in a ConfigMap the
// controller watches, so a registration's Ready condition follows real discovery without polling.
import { z } from "zod";

export const BROKER_STATUS_CONFIGMAP = "mcp-gateway-status";
export const BROKER_STATUS_KEY = "status.json";

export const PublishedServerSchema = z.object({
  /** `<namespace>/<registration name>`, as in the registry. */
  name: z.string(),
  ready: z.boolean(),
  message: z.string(),
  totalTools: z.number().int(),
  /** The transport the broker talks to the server: the registry's, or for `auto` the one detected (absent until then). */
  transport: z.string().optional(),
  /**
   * The MCP revisions the broker speaks with the server, newest first: the per-request one
   * (2026-07-28) when it reaches the server without sessions, then the session-era one of its
   * upstream sessions. Absent until discovery got through.
   */
  protocolVersions: z.array(z.string()).optional(),
  /** Exposed tool names, so the controller can check virtual servers against them. */
  tools: z.array(z.string()),
});

export const PublishedStatusSchema = z.object({
  servers: z.array(PublishedServerSchema),
});

export type PublishedServer = z.infer<typeof PublishedServerSchema>;
export type PublishedStatus = z.infer<typeof PublishedStatusSchema>;

/** Reads a ConfigMap's status document; a missing or broken one reads as no servers. */
export function parsePublishedStatus(text: string | undefined): PublishedStatus {
  if (!text) return { servers: [] };
  try {
    const parsed = PublishedStatusSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : { servers: [] };
  } catch {
    return { servers: [] };
  }
}
