// The broker's status document, taken from the catalog.
import type { Catalog, ServerStatus } from "../catalog/catalog.js";
import type { PublishedStatus } from "../contract/broker-status.js";

export function publishedStatus(catalog: Catalog): PublishedStatus {
  const tools = catalog.toolNamesByServer();
  return {
    servers: catalog.status().map((server) => {
      const transport = transportInUse(server);
      const protocolVersions = protocolVersionsInUse(server);
      return {
        name: server.name,
        ready: server.ready,
        message: server.message,
        totalTools: server.totalTools,
        ...(transport === undefined ? {} : { transport }),
        ...(protocolVersions.length === 0 ? {} : { protocolVersions }),
        tools: (tools.get(server.name) ?? []).sort(),
      };
    }),
  };
}

/** What the broker really talks to the server; for `auto` unknown until discovery got through. */
function transportInUse(server: ServerStatus): string | undefined {
  return server.transport === "auto" ? server.detectedTransport : server.transport;
}

/** Per-request first; a server of that era only has it as its one version. */
function protocolVersionsInUse(server: ServerStatus): string[] {
  const versions = [server.perRequestVersion, server.protocolVersion].filter((version): version is string => Boolean(version));
  return [...new Set(versions)];
}
