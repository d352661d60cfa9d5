// Registry documents for tests, in the format the controller writes.
import { stringify } from "yaml";
import { eventually } from "./gateway-process.js";

export interface TestServer {
  name: string;
  url: string;
  prefix?: string;
  credential?: string;
  forwardClientAuthorization?: boolean;
  enabled?: boolean;
}

/** `settings`: the registry's other top-level fields, e.g. backendPingIntervalSeconds. */
export function registryYaml(servers: TestServer[], virtualServers: Array<{ name: string; tools: string[] }> = [], settings: Record<string, unknown> = {}): string {
  return stringify({
    ...settings,
    servers: servers.map((server) => ({
      name: server.name,
      url: server.url,
      hostname: `${server.name.replace("/", "-")}.mcp.local`,
      toolPrefix: server.prefix ?? "",
      ...(server.credential ? { credential: server.credential } : {}),
      ...(server.forwardClientAuthorization ? { forwardClientAuthorization: true } : {}),
      enabled: server.enabled ?? true,
    })),
    virtualServers,
  });
}

export interface StatusDocument {
  servers: Array<{ name: string; ready: boolean; message: string; totalTools: number; conflicts: string[]; warnings: string[] }>;
  healthyServers: number;
}

export async function fetchStatus(baseUrl: string): Promise<StatusDocument> {
  return (await (await fetch(`${baseUrl}/status`)).json()) as StatusDocument;
}

/** Waits until the gateway's discovery of a server is ready. */
export async function serverReady(baseUrl: string, name: string): Promise<void> {
  await eventually(async () => serverStatus(await fetchStatus(baseUrl), name)?.ready, 10_000, `${name} ready`);
}

/** Status of one server, once it satisfies the predicate. */
export function serverStatus(status: StatusDocument, name: string) {
  return status.servers.find((server) => server.name === name);
}
