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
  { flag: "allowed-origins", env: "MCP_ALLOWED_ORIGINS", description: "Comma-separated browser Origins (scheme://host[:port]) accepted, or *; empty = only pages of the gateway's own origin, and none at all when --allowed-hosts is empty (DNS rebinding)", default: "" },
  { flag: "upstream-timeout-seconds", env: "MCP_UPSTREAM_TIMEOUT_SECONDS", description: "Longest time a forwarded request may take (the total timeout)", default: "60" },
  { flag: "input-required-timeout-seconds", env: "MCP_INPUT_REQUIRED_TIMEOUT_SECONDS", description: "How long a session-era upstream's call, held open while a 2026-07-28 client answers the upstream's requests (InputRequiredResult), waits for the client's retry; the call itself stays bounded by --upstream-timeout-seconds", default: "300" },
  { flag: "upstream-connect-timeout-seconds", env: "MCP_UPSTREAM_CONNECT_TIMEOUT_SECONDS", description: "Longest wait for a TCP (and TLS) connection to an upstream", default: "5" },
  { flag: "upstream-first-byte-timeout-seconds", env: "MCP_UPSTREAM_FIRST_BYTE_TIMEOUT_SECONDS", description: "Longest wait for an upstream's response headers; an upstream answering plain JSON sends them only with the answer", default: "30" },
  { flag: "discovery-timeout-seconds", env: "MCP_DISCOVERY_TIMEOUT_SECONDS", description: "Longest time a discovery request (initialize, list) may take", default: "10" },
  { flag: "refresh-interval-seconds", env: "MCP_REFRESH_INTERVAL_SECONDS", description: "How often each upstream is re-listed (also its health check); the registry's backendPingIntervalSeconds replaces it", default: "60" },
  { flag: "retry-max-seconds", env: "MCP_RETRY_MAX_SECONDS", description: "Longest backoff between reconnects to a failing upstream", default: "30" },
  { flag: "list-page-size", env: "MCP_LIST_PAGE_SIZE", description: "Entries per tools/prompts/resources list page (0 = no paging)", default: "1000" },
  { flag: "session-idle-timeout-seconds", env: "MCP_SESSION_IDLE_TIMEOUT_SECONDS", description: "Sessions idle this long (and without an open stream) are closed", default: "3600" },
  { flag: "session-max-lifetime-seconds", env: "MCP_SESSION_MAX_LIFETIME_SECONDS", description: "Longest life of a session however active; the expiry is signed into the session id", default: "86400" },
  { flag: "session-key-secret", env: "MCP_SESSION_KEY_SECRET", description: "NAMESPACE/NAME of the Secret (key `key`, >= 32 bytes; `previous` still accepted) whose key signs session ids, read and followed through the Kubernetes API; the operator creates mcp-gateway-session-key when absent and rotates it on request. The broker waits for it before listening", default: "" },
  { flag: "session-key-activation-seconds", env: "MCP_SESSION_KEY_ACTIVATION_SECONDS", description: "After the --session-key-secret key changes, how long the broker accepts the new key before signing with it, so that every replica knows a key before any session id carries it", default: "10" },
  { flag: "session-key-file", env: "MCP_SESSION_KEY_FILE", description: "File holding the session signing key (>= 32 bytes), e.g. a mounted Secret, instead of --session-key-secret. With neither, each process makes a random key (sessions then end with the process)", default: "" },
  { flag: "redis-url", env: "MCP_REDIS_URL", description: "redis:// or rediss:// URL of the Redis that shares sessions between replicas (needs a shared session key); empty = sessions live in this process", default: "" },
  { flag: "redis-timeout-seconds", env: "MCP_REDIS_TIMEOUT_SECONDS", description: "Longest wait for one Redis command; past it the broker serves from what it holds", default: "2" },
  { flag: "upstream-idle-timeout-seconds", env: "MCP_UPSTREAM_IDLE_TIMEOUT_SECONDS", description: "Upstream sessions unused this long are closed and reopened on next use (0 = kept for the life of the client session)", default: "900" },
  { flag: "max-stdio-processes", env: "MCP_MAX_STDIO_PROCESSES", description: "Most stdio server processes the broker runs at once (one per upstream session of a `transport: stdio` server, plus one for its discovery); past it, opening another upstream session to a stdio server fails", default: "100" },
  { flag: "max-body-bytes", env: "MCP_MAX_BODY_BYTES", description: "Largest accepted request body", default: "4194304" },
  { flag: "max-response-bytes", env: "MCP_MAX_RESPONSE_BYTES", description: "Largest accepted upstream JSON response, and largest single SSE event of an upstream (to within one socket read)", default: "33554432" },
  { flag: "max-batch-size", env: "MCP_MAX_BATCH_SIZE", description: "Most messages one JSON-RPC batch may carry (2024-11-05 and 2025-03-26 clients); each counts against the rate and stream limits", default: "100" },
  { flag: "max-initialize-params-bytes", env: "MCP_MAX_INITIALIZE_PARAMS_BYTES", description: "Largest initialize params (JSON bytes) accepted; they are kept for the session's life and sent to every upstream", default: "65536" },
  { flag: "max-sessions-per-client", env: "MCP_MAX_SESSIONS_PER_CLIENT", description: "Sessions one client (token identity, else remote address) may hold on a replica; more initializes get HTTP 429 (0 = no limit)", default: "100" },
  { flag: "max-subscriptions-per-session", env: "MCP_MAX_SUBSCRIPTIONS_PER_SESSION", description: "Resource subscriptions one session may hold (0 = no limit)", default: "1000" },
  { flag: "max-streams-per-session", env: "MCP_MAX_STREAMS_PER_SESSION", description: "Open GET streams plus POSTs in flight allowed per session; more get HTTP 429 (0 = no limit)", default: "100" },
  { flag: "session-rate-limit", env: "MCP_SESSION_RATE_LIMIT", description: "Requests per second allowed per session on average; more get HTTP 429 (0 = no limit)", default: "0" },
  { flag: "session-rate-burst", env: "MCP_SESSION_RATE_BURST", description: "Requests a session may send at once after a quiet spell (the bucket size of --session-rate-limit)", default: "50" },
  { flag: "client-rate-limit", env: "MCP_CLIENT_RATE_LIMIT", description: "Requests per second allowed per client (token subject, else remote address), initialize included; more get HTTP 429 (0 = no limit)", default: "0" },
  { flag: "client-rate-burst", env: "MCP_CLIENT_RATE_BURST", description: "Requests a client may send at once after a quiet spell (the bucket size of --client-rate-limit)", default: "100" },
  { flag: "client-initialize-rate-limit", env: "MCP_CLIENT_INITIALIZE_RATE_LIMIT", description: "initialize requests per second allowed per client, on top of --client-rate-limit; more get HTTP 429 (0 = no limit)", default: "5" },
  { flag: "client-initialize-rate-burst", env: "MCP_CLIENT_INITIALIZE_RATE_BURST", description: "initialize requests a client may send at once after a quiet spell", default: "20" },
  { flag: "keep-alive-seconds", env: "MCP_KEEP_ALIVE_SECONDS", description: "Interval of keep-alive comments on idle GET streams (0 = off)", default: "25" },
  { flag: "auth-jwks-url", env: "MCP_AUTH_JWKS_URL", description: "JWKS URL of the issuer of client tokens; set this or --auth-jwks-file to require a bearer JWT on /mcp (empty = no client authentication)", default: "" },
  { flag: "auth-jwks-file", env: "MCP_AUTH_JWKS_FILE", description: "Local JWKS JSON file with the keys of client tokens, instead of --auth-jwks-url (tests, air-gapped installs)", default: "" },
  { flag: "auth-issuer", env: "MCP_AUTH_ISSUER", description: "Required iss of client tokens (needed when client authentication is on)", default: "" },
  { flag: "auth-audience", env: "MCP_AUTH_AUDIENCE", description: "Required aud of client tokens (needed when client authentication is on)", default: "" },
  { flag: "auth-resource", env: "MCP_AUTH_RESOURCE", description: "Resource identifier in /.well-known/oauth-protected-resource; empty = http://PUBLIC-ADDRESS/mcp", default: "" },
  { flag: "auth-authorization-servers", env: "MCP_AUTH_AUTHORIZATION_SERVERS", description: "Comma-separated authorization server issuer URLs published in the protected resource metadata", default: "" },
  { flag: "auth-scopes", env: "MCP_AUTH_SCOPES", description: "Comma-separated scopes published as scopes_supported in the protected resource metadata", default: "" },
  { flag: "auth-tools-claim", env: "MCP_AUTH_TOOLS_CLAIM", description: "Claim of the client token listing the tools and prompts (exposed names) it may see and use (e.g. mcp_tools); empty = no per-tool limit from the token", default: "" },
  { flag: "authorized-tools-jwks-url", env: "MCP_AUTHORIZED_TOOLS_JWKS_URL", description: "JWKS URL of the issuer of x-authorized-tools headers; set this or --authorized-tools-jwks-file to require that header on /mcp (empty = header ignored)", default: "" },
  { flag: "authorized-tools-jwks-file", env: "MCP_AUTHORIZED_TOOLS_JWKS_FILE", description: "Local JWKS JSON file with the keys of x-authorized-tools headers, instead of --authorized-tools-jwks-url", default: "" },
  { flag: "authorized-tools-issuer", env: "MCP_AUTHORIZED_TOOLS_ISSUER", description: "Required iss of x-authorized-tools headers (needed when that header is verified)", default: "" },
  { flag: "authorized-tools-audience", env: "MCP_AUTHORIZED_TOOLS_AUDIENCE", description: "Required aud of x-authorized-tools headers; empty = the --auth-audience (one of them is needed when that header is verified)", default: "" },
  { flag: "authorized-tools-max-age-seconds", env: "MCP_AUTHORIZED_TOOLS_MAX_AGE_SECONDS", description: "Oldest x-authorized-tools header accepted, by its iat (it also needs exp)", default: "300" },
  { flag: "log-level", env: "LOG_LEVEL", description: "trace, debug, info, warn or error", default: "info" },
] as const satisfies readonly OptionSpec[];

const seconds = z.coerce.number().positive();
const namespacedName = z.union([z.literal(""), z.string().regex(/^[a-z0-9-]+\/[a-z0-9.-]+$/, "must be NAMESPACE/NAME")]);
/** Requests per second; 0 turns the limit off. */
const perSecond = z.coerce.number().min(0);
const burst = z.coerce.number().int().min(1);
const list = z.string().transform((value) => value.split(",").map((item) => item.trim()).filter(Boolean));

const BrokerOptionsSchema = z.object({
  "mcp-gateway-config": z.string().min(1),
  "mcp-gateway-config-secret": namespacedName,
  "mcp-broker-public-address": z.string().regex(ADDRESS_PATTERN, "must be HOST:PORT"),
  "allowed-hosts": list,
  "allowed-origins": list,
  "upstream-timeout-seconds": seconds,
  "input-required-timeout-seconds": seconds,
  "upstream-connect-timeout-seconds": seconds,
  "upstream-first-byte-timeout-seconds": seconds,
  "discovery-timeout-seconds": seconds,
  "refresh-interval-seconds": seconds,
  "retry-max-seconds": seconds,
  "list-page-size": z.coerce.number().int().min(0),
  "session-idle-timeout-seconds": seconds,
  "session-max-lifetime-seconds": seconds,
  "session-key-secret": namespacedName,
  "session-key-activation-seconds": seconds,
  "session-key-file": z.string(),
  "redis-url": z.union([z.literal(""), z.string().regex(/^rediss?:\/\/\S+$/, "must be a redis:// or rediss:// URL")]),
  "redis-timeout-seconds": seconds,
  "upstream-idle-timeout-seconds": z.coerce.number().min(0),
  "max-stdio-processes": z.coerce.number().int().positive(),
  "max-body-bytes": z.coerce.number().int().positive(),
  "max-response-bytes": z.coerce.number().int().positive(),
  "max-batch-size": z.coerce.number().int().min(1),
  "max-initialize-params-bytes": z.coerce.number().int().positive(),
  "max-sessions-per-client": z.coerce.number().int().min(0),
  "max-subscriptions-per-session": z.coerce.number().int().min(0),
  "max-streams-per-session": z.coerce.number().int().min(0),
  "session-rate-limit": perSecond,
  "session-rate-burst": burst,
  "client-rate-limit": perSecond,
  "client-rate-burst": burst,
  "client-initialize-rate-limit": perSecond,
  "client-initialize-rate-burst": burst,
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
  "authorized-tools-audience": z.string(),
  "authorized-tools-max-age-seconds": seconds,
  "log-level": z.enum(["trace", "debug", "info", "warn", "error"]),
})
  .refine((options) => !(options["session-key-file"] && options["session-key-secret"]), { message: "set --session-key-file or --session-key-secret, not both" })
  // Replicas sharing sessions must verify each other's ids: a random per-process key cannot do that.
  .refine((options) => !options["redis-url"] || options["session-key-file"] || options["session-key-secret"], {
    message: "--redis-url needs a session key shared by all replicas: set --session-key-secret or --session-key-file",
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
