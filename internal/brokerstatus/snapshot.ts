// The broker's status document, taken from the catalog.
import type { Catalog } from "../catalog/catalog.js";
import type { PublishedStatus } from "../contract/broker-status.js";

export function publishedStatus(catalog: Catalog): PublishedStatus {
  const tools = catalog.toolNamesByServer();
  return {
    servers: catalog.status().map((server) => ({
      name: server.name,
      ready: server.ready,
      message: server.message,
      totalTools: server.totalTools,
      tools: (tools.get(server.name) ?? []).sort(),
    })),
  };
}
