// What one upstream server offers, as listed by its discovery session.

export interface Tool {
  name: string;
  description?: string;
  inputSchema?: unknown;
  [key: string]: unknown;
}
export interface Prompt {
  name: string;
  [key: string]: unknown;
}
export interface Resource {
  uri: string;
  [key: string]: unknown;
}
export interface ResourceTemplate {
  uriTemplate: string;
  [key: string]: unknown;
}

export interface ServerSnapshot {
  /** The version discovery speaks with it: its session-era one, or the per-request one for a server of that era only. */
  protocolVersion: string;
  /** How discovery reached the server: its registry transport, or for `auto` the one detected. */
  transport?: string;
  /** The per-request version (2026-07-28) it offered in server/discover; absent for a server of the session era only. */
  perRequestVersion?: string;
  capabilities: Record<string, unknown>;
  instructions?: string;
  serverInfo?: { name?: string; version?: string };
  tools: Tool[];
  prompts: Prompt[];
  resources: Resource[];
  resourceTemplates: ResourceTemplate[];
}
