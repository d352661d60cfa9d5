// The broker-router's settings: every flag has an environment variable and a documented
// default, all declared in one table that also renders --help and the operations doc.
import { parseArgs } from "node:util";
import { z } from "zod";

interface OptionSpec {
  flag: string;
  env: string;
  description: string;
  default?: string;
}

export const BROKER_OPTIONS = [
  { flag: "mcp-gateway-config", env: "MCP_GATEWAY_CONFIG", description: "Registry file to serve (YAML: servers, virtualServers); watched for changes", default: "/etc/mcp-gateway/config.yaml" },
  { flag: "mcp-broker-public-address", env: "MCP_BROKER_PUBLIC_ADDRESS", description: "HOST:PORT to listen on; MCP is served at /mcp", default: "0.0.0.0:8080" },
  { flag: "allowed-hosts", env: "MCP_ALLOWED_HOSTS", description: "Comma-separated Host names accepted on /mcp (DNS-rebinding protection); empty = any, or loopback names when listening on loopback", default: "" },
  { flag: "allowed-origins", env: "MCP_ALLOWED_ORIGINS", description: "Comma-separated browser Origins accepted; empty = only pages from the same host", default: "" },
  { flag: "upstream-timeout-seconds", env: "MCP_UPSTREAM_TIMEOUT_SECONDS", description: "Longest time a forwarded request may take", default: "60" },
  { flag: "discovery-timeout-seconds", env: "MCP_DISCOVERY_TIMEOUT_SECONDS", description: "Longest time a discovery request (initialize, list) may take", default: "10" },
  { flag: "refresh-interval-seconds", env: "MCP_REFRESH_INTERVAL_SECONDS", description: "How often each upstream is re-listed (also its health check)", default: "60" },
  { flag: "retry-max-seconds", env: "MCP_RETRY_MAX_SECONDS", description: "Longest backoff between reconnects to a failing upstream", default: "30" },
  { flag: "list-page-size", env: "MCP_LIST_PAGE_SIZE", description: "Entries per tools/prompts/resources list page (0 = no paging)", default: "1000" },
  { flag: "session-idle-timeout-seconds", env: "MCP_SESSION_IDLE_TIMEOUT_SECONDS", description: "Sessions idle this long (and without an open stream) are closed", default: "3600" },
  { flag: "max-body-bytes", env: "MCP_MAX_BODY_BYTES", description: "Largest accepted request body", default: "4194304" },
  { flag: "max-response-bytes", env: "MCP_MAX_RESPONSE_BYTES", description: "Largest accepted upstream JSON response", default: "33554432" },
  { flag: "keep-alive-seconds", env: "MCP_KEEP_ALIVE_SECONDS", description: "Interval of keep-alive comments on idle GET streams (0 = off)", default: "25" },
  { flag: "log-level", env: "LOG_LEVEL", description: "trace, debug, info, warn or error", default: "info" },
] as const satisfies readonly OptionSpec[];

const seconds = z.coerce.number().positive();
const list = z.string().transform((value) => value.split(",").map((item) => item.trim()).filter(Boolean));

const BrokerOptionsSchema = z.object({
  "mcp-gateway-config": z.string().min(1),
  "mcp-broker-public-address": z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, "must be HOST:PORT"),
  "allowed-hosts": list,
  "allowed-origins": list,
  "upstream-timeout-seconds": seconds,
  "discovery-timeout-seconds": seconds,
  "refresh-interval-seconds": seconds,
  "retry-max-seconds": seconds,
  "list-page-size": z.coerce.number().int().min(0),
  "session-idle-timeout-seconds": seconds,
  "max-body-bytes": z.coerce.number().int().positive(),
  "max-response-bytes": z.coerce.number().int().positive(),
  "keep-alive-seconds": z.coerce.number().min(0),
  "log-level": z.enum(["trace", "debug", "info", "warn", "error"]),
});

export type BrokerOptions = z.infer<typeof BrokerOptionsSchema>;

export function brokerUsage(): string {
  const lines = BROKER_OPTIONS.map((option) => `  --${option.flag} (env ${option.env}, default ${JSON.stringify(option.default)})\n      ${option.description}`);
  return `Usage: broker-router [options]\n\n${lines.join("\n")}\n`;
}

/** Flags win over environment variables, which win over defaults. Throws with a readable message. */
export function parseBrokerOptions(argv: string[], env: NodeJS.ProcessEnv): BrokerOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    options: { help: { type: "boolean" }, ...Object.fromEntries(BROKER_OPTIONS.map((option) => [option.flag, { type: "string" as const }])) },
    strict: true,
  });
  if (values.help) return "help";
  const raw = Object.fromEntries(BROKER_OPTIONS.map((option) => [option.flag, (values as Record<string, unknown>)[option.flag] ?? env[option.env] ?? option.default]));
  const parsed = BrokerOptionsSchema.safeParse(raw);
  if (!parsed.success) throw new Error(z.prettifyError(parsed.error));
  return parsed.data;
}

/** Splits HOST:PORT, accepting [v6]:port. */
export function splitAddress(address: string): { host: string; port: number } {
  const index = address.lastIndexOf(":");
  return { host: address.slice(0, index).replace(/^\[|\]$/g, ""), port: Number(address.slice(index + 1)) };
}

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"];

/** Listening on loopback means a local tool: only loopback Host names are safe then. */
export function defaultAllowedHosts(host: string): string[] {
  const isLoopback = host === "localhost" || host === "::1" || host.startsWith("127.");
  return isLoopback ? [...LOOPBACK_NAMES, host] : [];
}
