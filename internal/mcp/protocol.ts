// MCP protocol revisions the gateway speaks, on both its client and its upstream side.

/** Newest first: the first entry is what the gateway offers when a peer asks for something unknown. */
export const SUPPORTED_PROTOCOL_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"] as const;
export const LATEST_PROTOCOL_VERSION: string = SUPPORTED_PROTOCOL_VERSIONS[0];

export function isSupportedProtocolVersion(version: unknown): version is string {
  return typeof version === "string" && (SUPPORTED_PROTOCOL_VERSIONS as readonly string[]).includes(version);
}

/** Answers a client's initialize: its own version when we speak it, otherwise our latest. */
export function negotiateProtocolVersion(requested: unknown): string {
  return isSupportedProtocolVersion(requested) ? requested : LATEST_PROTOCOL_VERSION;
}

/** JSON-RPC batches exist in 2025-03-26 and were removed in 2025-06-18. */
export function allowsBatches(version: string): boolean {
  return version <= "2025-03-26";
}

export const Method = {
  Initialize: "initialize",
  Ping: "ping",
  ToolsList: "tools/list",
  ToolsCall: "tools/call",
  PromptsList: "prompts/list",
  PromptsGet: "prompts/get",
  ResourcesList: "resources/list",
  ResourceTemplatesList: "resources/templates/list",
  ResourcesRead: "resources/read",
  ResourcesSubscribe: "resources/subscribe",
  ResourcesUnsubscribe: "resources/unsubscribe",
  CompletionComplete: "completion/complete",
  LoggingSetLevel: "logging/setLevel",
} as const;

export const Notification = {
  Initialized: "notifications/initialized",
  Cancelled: "notifications/cancelled",
  Progress: "notifications/progress",
  Message: "notifications/message",
  ToolsListChanged: "notifications/tools/list_changed",
  PromptsListChanged: "notifications/prompts/list_changed",
  ResourcesListChanged: "notifications/resources/list_changed",
  ResourceUpdated: "notifications/resources/updated",
  RootsListChanged: "notifications/roots/list_changed",
} as const;

/**
 * Revisions of the per-request era (2026-07-28 on): no initialize and no session; version,
 * client info and capabilities travel in every request's `_meta`.
 */
export const PER_REQUEST_PROTOCOL_VERSIONS = ["2026-07-28"] as const;

export function isPerRequestProtocolVersion(version: unknown): version is string {
  return typeof version === "string" && (PER_REQUEST_PROTOCOL_VERSIONS as readonly string[]).includes(version);
}

/** The `_meta` keys of the per-request era (2026-07-28). */
export const MetaKey = {
  ProtocolVersion: "io.modelcontextprotocol/protocolVersion",
  ClientInfo: "io.modelcontextprotocol/clientInfo",
  ClientCapabilities: "io.modelcontextprotocol/clientCapabilities",
  LogLevel: "io.modelcontextprotocol/logLevel",
  SubscriptionId: "io.modelcontextprotocol/subscriptionId",
  ServerInfo: "io.modelcontextprotocol/serverInfo",
} as const;

/** Methods only the per-request era has. */
export const PerRequestMethod = {
  ServerDiscover: "server/discover",
  SubscriptionsListen: "subscriptions/listen",
} as const;

/** Error codes the 2026-07-28 revision defines. */
export const PerRequestErrorCode = {
  HeaderMismatch: -32020,
  MissingRequiredClientCapability: -32021,
  UnsupportedProtocolVersion: -32022,
} as const;

export const SubscriptionsAcknowledged = "notifications/subscriptions/acknowledged";

/** The methods of the tasks extension (io.modelcontextprotocol/tasks, SEP-2663), per request only. */
export const TaskMethod = {
  Get: "tasks/get",
  Update: "tasks/update",
  Cancel: "tasks/cancel",
} as const;

export const TaskStatusNotification = "notifications/tasks";

/** The param each request's `Mcp-Name` header mirrors (2026-07-28 and the tasks extension). */
export const MIRRORED_PARAM: ReadonlyMap<string, string> = new Map([
  [Method.ToolsCall, "name"],
  [Method.PromptsGet, "name"],
  [Method.ResourcesRead, "uri"],
  [TaskMethod.Get, "taskId"],
  [TaskMethod.Update, "taskId"],
  [TaskMethod.Cancel, "taskId"],
]);

export const GATEWAY_INFO = { name: "mcp-gateway", version: "0.1.0" } as const;
