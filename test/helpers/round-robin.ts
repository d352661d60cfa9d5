// A load balancer for tests of several broker replicas: on loopback, it alternates every request
// between them and records where each went.
import { request } from "node:http";
import type { GatewayProcess } from "./gateway-process.js";
import { serveLoopback } from "./loopback.js";

/** What the proxy sent where: the replica (0 or 1) and the request's Mcp-Method and Mcp-Name. */
export interface Routed {
  replica: number;
  method?: string;
  name?: string;
}

export interface RoundRobin {
  url: string;
  routed: Routed[];
  stop(): Promise<void>;
}

/** Alternates every POST between the replicas; a GET or DELETE goes to the next one too. Streams both ways, so a client's abort reaches the replica. */
export async function roundRobin(replicas: GatewayProcess[]): Promise<RoundRobin> {
  const routed: Routed[] = [];
  let next = 0;
  const server = await serveLoopback((req, res) => {
    const replica = next++ % replicas.length;
    const target = new URL(replicas[replica]!.mcpUrl);
    const header = (name: string) => req.headers[name] as string | undefined;
    routed.push({ replica, method: header("mcp-method"), name: header("mcp-name") });
    const forwarded = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forwarded.on("error", () => res.destroy());
    res.on("close", () => forwarded.destroy());
    req.pipe(forwarded);
  });
  return { url: `${server.url}/mcp`, routed, stop: () => server.close() };
}
