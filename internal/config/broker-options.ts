// The broker-router's settings: every flag has an environment variable and a documented
// default, all declared in one table that also renders --help and the operations doc.
import { z } from "zod";
import { ADDRESS_PATTERN } from "./address.js";
import { parseOptions, usage, type OptionSpec } from "./options.js";

export const BROKER_OPTIONS = [
  { flag: "mcp-gateway-config", env: "MCP_GATEWAY_CONFIG", description: "Registry file to serve (YAML: servers, virtualServers); watched for changes", default: "/etc/mcp-gateway/config.yaml" },
  { flag: "mcp-gateway-config-secret", env: "MCP_GATEWAY_CONFIG_SECRET", description: "NAMESPACE/NAME of a Secret (key config.yaml) to serve instead of the file, watched through the Kubernetes API; discovery status is published to ConfigMap mcp-gateway-status in that namespace", default: "" },
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
  { flag: "auth-jwks-url", env: "MCP_AUTH_JWKS_URL", description: "JWKS URL of the issuer of client tokens; set this or --auth-jwks-file to require a bearer JWT on /mcp (empty = no client authentication)", default: "" },
  { flag: "auth-jwks-file", env: "MCP_AUTH_JWKS_FILE", description: "Local JWKS JSON file with the keys of client tokens, instead of --auth-jwks-url (tests, air-gapped installs)", default: "" },
  { flag: "auth-issuer", env: "MCP_AUTH_ISSUER", description: "Required iss of client tokens (needed when client authentication is on)", default: "" },
  { flag: "auth-audience", env: "MCP_AUTH_AUDIENCE", description: "Required aud of client tokens (needed when client authentication is on)", default: "" },
  { flag: "auth-resource", env: "MCP_AUTH_RESOURCE", description: "Resource identifier in /.well-known/oauth-protected-resource; empty = http://PUBLIC-ADDRESS/mcp", default: "" },
  { flag: "auth-authorization-servers", env: "MCP_AUTH_AUTHORIZATION_SERVERS", description: "Comma-separated authorization server issuer URLs published in the protected resource metadata", default: "" },
  { flag: "auth-scopes", env: "MCP_AUTH_SCOPES", description: "Comma-separated scopes published as scopes_supported in the protected resource metadata", default: "" },
  { flag: "auth-tools-claim", env: "MCP_AUTH_TOOLS_CLAIM", description: "Claim of the client token listing the tools it may see and call (e.g. mcp_tools); empty = no per-tool limit from the token", default: "" },
  { flag: "authorized-tools-jwks-url", env: "MCP_AUTHORIZED_TOOLS_JWKS_URL", description: "JWKS URL of the issuer of x-authorized-tools headers; set this or --authorized-tools-jwks-file to require that header on /mcp (empty = header ignored)", default: "" },
  { flag: "authorized-tools-jwks-file", env: "MCP_AUTHORIZED_TOOLS_JWKS_FILE", description: "Local JWKS JSON file with the keys of x-authorized-tools headers, instead of --authorized-tools-jwks-url", default: "" },
  { flag: "authorized-tools-issuer", env: "MCP_AUTHORIZED_TOOLS_ISSUER", description: "Required iss of x-authorized-tools headers (needed when that header is verified)", default: "" },
  { flag: "log-level", env: "LOG_LEVEL", description: "trace, debug, info, warn or error", default: "info" },
] as const satisfies readonly OptionSpec[];

const seconds = z.coerce.number().positive();
const list = z.string().transform((value) => value.split(",").map((item) => item.trim()).filter(Boolean));

const BrokerOptionsSchema = z.object({
  "mcp-gateway-config": z.string().min(1),
  "mcp-gateway-config-secret": z.union([z.literal(""), z.string().regex(/^[a-z0-9-]+\/[a-z0-9.-]+$/, "must be NAMESPACE/NAME")]),
  "mcp-broker-public-address": z.string().regex(ADDRESS_PATTERN, "must be HOST:PORT"),
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
  "auth-jwks-url": z.union([z.literal(""), z.url()]),
  "auth-jwks-file": z.string(),
  "auth-issuer": z.string(),
  "auth-audience": z.string(),
  "auth-resource": z.union([z.literal(""), z.url()]),
  "auth-authorization-servers": list,
  "auth-scopes": list,
  "auth-tools-claim": z.string(),
  "authorized-tools-jwks-url": z.union([z.literal(""), z.url()]),
  "authorized-tools-jwks-file": z.string(),
  "authorized-tools-issuer": z.string(),
  "log-level": z.enum(["trace", "debug", "info", "warn", "error"]),
});

export type BrokerOptions = z.infer<typeof BrokerOptionsSchema>;

export function brokerUsage(): string {
  return usage("broker-router", BROKER_OPTIONS);
}

export function parseBrokerOptions(argv: string[], env: NodeJS.ProcessEnv): BrokerOptions | "help" {
  return parseOptions(BROKER_OPTIONS, BrokerOptionsSchema, argv, env);
}

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"];

/** Listening on loopback means a local tool: only loopback Host names are safe then. */
export function defaultAllowedHosts(host: string): string[] {
  const isLoopback = host === "localhost" || host === "::1" || host.startsWith("127.");
  return isLoopback ? [...LOOPBACK_NAMES, host] : [];
}
