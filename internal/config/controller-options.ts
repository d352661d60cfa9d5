// The controller's settings: flags, their environment variables and defaults, in one table.
import { hostname } from "node:os";
import { z } from "zod";
import { ADDRESS_PATTERN } from "./address.js";
import { parseOptions, usage, type OptionSpec } from "./options.js";

export const CONTROLLER_OPTIONS = [
  { flag: "probe-address", env: "MCP_CONTROLLER_PROBE_ADDRESS", description: "HOST:PORT serving /healthz, /readyz and /metrics", default: "0.0.0.0:8081" },
  { flag: "workers", env: "MCP_CONTROLLER_WORKERS", description: "Keys reconciled in parallel", default: "4" },
  { flag: "leader-elect", env: "MCP_CONTROLLER_LEADER_ELECT", description: "Elect a leader on a coordination.k8s.io Lease so several replicas are safe", default: "true" },
  { flag: "leader-election-namespace", env: "POD_NAMESPACE", description: "Namespace of the leader Lease", default: "mcp-system" },
  { flag: "leader-election-id", env: "MCP_CONTROLLER_LEADER_ELECTION_ID", description: "Name of the leader Lease", default: "mcp-gateway-controller" },
  { flag: "identity", env: "POD_NAME", description: "This replica's name in the Lease", default: "(host name)" },
  { flag: "log-level", env: "LOG_LEVEL", description: "trace, debug, info, warn or error", default: "info" },
] as const satisfies readonly OptionSpec[];

const ControllerOptionsSchema = z.object({
  "probe-address": z.string().regex(ADDRESS_PATTERN, "must be HOST:PORT"),
  workers: z.coerce.number().int().min(1).max(64),
  "leader-elect": z.enum(["true", "false"]).transform((value) => value === "true"),
  "leader-election-namespace": z.string().min(1),
  "leader-election-id": z.string().min(1),
  identity: z.string().min(1).transform((value) => (value === "(host name)" ? hostname() : value)),
  "log-level": z.enum(["trace", "debug", "info", "warn", "error"]),
});

export type ControllerOptionValues = z.infer<typeof ControllerOptionsSchema>;

export function controllerUsage(): string {
  return `${usage("controller", CONTROLLER_OPTIONS)}\nKUBECONFIG selects the cluster; in-cluster configuration is used when it is unset.\n`;
}

export function parseControllerOptions(argv: string[], env: NodeJS.ProcessEnv): ControllerOptionValues | "help" {
  return parseOptions(CONTROLLER_OPTIONS, ControllerOptionsSchema, argv, env);
}
