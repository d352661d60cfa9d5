// The broker-router's HTTP surface: /mcp plus the probes, /status and /metrics.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import express, { type Express } from "express";
import type { ServerStatus } from "../catalog/catalog.js";
import type { ServerDirectory } from "../discovery/directory.js";
import type { GatewayMetrics } from "../metrics/metrics.js";
import { METADATA_PATH, type ProtectedResourceMetadata } from "../auth/protected-resource.js";

export interface AppParts {
  mcpHandler: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  directory: ServerDirectory;
  metrics: GatewayMetrics;
  /** False while shutting down, so load balancers stop sending new sessions. */
  accepting: () => boolean;
  /** Set when clients must authenticate: RFC 9728 metadata is served then, 404 otherwise. */
  protectedResource?: ProtectedResourceMetadata;
}

/** The /status document: each server's readiness, message and counts (no URLs or credentials). */
export function statusDocument(servers: ServerStatus[]) {
  const healthy = servers.filter((server) => server.ready).length;
  return {
    servers,
    overallValid: healthy === servers.length,
    totalServers: servers.length,
    healthyServers: healthy,
    unHealthyServers: servers.length - healthy,
    toolConflicts: servers.reduce((sum, server) => sum + server.conflicts.length, 0),
    timestamp: new Date().toISOString(),
  };
}

function createApp(parts: AppParts): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", (_req, res) => {
    const ready = parts.directory.loaded && parts.accepting();
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "not ready" });
  });
  app.get("/status", (_req, res) => {
    res.json(statusDocument(parts.directory.catalog.status()));
  });
  // Server names are <namespace>/<name>, so the name spans two path segments.
  app.get("/status/:namespace/:name", (req, res) => {
    const name = `${req.params.namespace}/${req.params.name}`;
    const server = parts.directory.catalog.status().find((candidate) => candidate.name === name);
    if (server) res.json(server);
    else res.status(404).json({ error: `server ${name} not found` });
  });
  app.get("/metrics", async (_req, res) => {
    res.type(parts.metrics.registry.contentType).send(await parts.metrics.registry.metrics());
  });
  const resource = parts.protectedResource;
  if (resource) {
    // RFC 9728 also places the document under the resource's path (…/oauth-protected-resource/mcp).
    app.get([METADATA_PATH, `${METADATA_PATH}/mcp`], (_req, res) => {
      res.json(resource.document());
    });
  }
  app.use((_req, res) => {
    res.status(404).json({ error: "not found" });
  });
  return app;
}

/** /mcp goes straight to the transport; everything else through express, which costs more per request. */
export function createHttpServer(parts: AppParts): Server {
  const app = createApp(parts);
  return createServer((req, res) => {
    const url = req.url ?? "";
    if (url === "/mcp" || url.startsWith("/mcp?")) void parts.mcpHandler(req, res);
    else app(req, res);
  });
}
