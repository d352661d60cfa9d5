// A real MCP client (the TypeScript SDK's) connected to the gateway, recording what it is sent.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";

export interface TestClient {
  client: Client;
  transport: StreamableHTTPClientTransport;
  /** Methods of the notifications received, in order. */
  notifications: Array<{ method: string; params?: unknown }>;
  /** Requests the gateway relayed to this client (sampling, elicitation, roots). */
  requests: string[];
  count(method: string): number;
  close(): Promise<void>;
}

export async function connectClient(mcpUrl: string, headers: Record<string, string> = {}): Promise<TestClient> {
  const client = new Client({ name: "gateway-test", version: "1.0.0" }, { capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } } });
  const notifications: TestClient["notifications"] = [];
  const requests: string[] = [];
  for (const schema of [ToolListChangedNotificationSchema, PromptListChangedNotificationSchema, ResourceListChangedNotificationSchema, ResourceUpdatedNotificationSchema, LoggingMessageNotificationSchema]) {
    client.setNotificationHandler(schema, (notification) => {
      notifications.push({ method: notification.method, params: notification.params });
    });
  }
  client.setRequestHandler(CreateMessageRequestSchema, (request) => {
    requests.push(request.method);
    const prompt = request.params.messages[0]?.content;
    const text = prompt && "text" in prompt ? prompt.text : "";
    return { role: "assistant", model: "test-model", content: { type: "text", text: `sampled: ${text}` } };
  });
  client.setRequestHandler(ElicitRequestSchema, (request) => {
    requests.push(request.method);
    return { action: "accept", content: { answer: "forty-two" } };
  });
  client.setRequestHandler(ListRootsRequestSchema, (request) => {
    requests.push(request.method);
    return { roots: [{ uri: "file:///workspace", name: "workspace" }] };
  });
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers } });
  await client.connect(transport);
  return {
    client,
    transport,
    notifications,
    requests,
    count: (method) => notifications.filter((n) => n.method === method).length,
    close: async () => {
      await transport.terminateSession().catch(() => undefined);
      await client.close();
    },
  };
}

/** The text of the first content block of a tool result. */
export function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content[0]?.text ?? "";
}
