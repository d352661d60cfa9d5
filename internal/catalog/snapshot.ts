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
  protocolVersion: string;
  /** How discovery reached the server: its registry transport, or for `auto` the one detected. */
  transport?: string;
  capabilities: Record<string, unknown>;
  instructions?: string;
  serverInfo?: { name?: string; version?: string };
  tools: Tool[];
  prompts: Prompt[];
  resources: Resource[];
  resourceTemplates: ResourceTemplate[];
}
