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

export const GATEWAY_INFO = { name: "mcp-gateway", version: "0.1.0" } as const;
