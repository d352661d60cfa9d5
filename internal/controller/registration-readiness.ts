// A resolved registration is Ready only when the broker serving it has really connected to the
// server and listed its tools; the broker's published status says so.
import type { PublishedServer } from "../contract/broker-status.js";
import { namesTooLong } from "../contract/tool-names.js";
import type { ClusterView, Verdict } from "./cluster-view.js";
import { RegistrationReason, type Resolution } from "./registration-resolution.js";

export interface Readiness extends Verdict {
  discoveredTools?: number;
  /** The transport the broker talks to the server (for `auto`: the one it detected). */
  transport?: string;
  /** The MCP revisions the broker speaks with the server, newest first (see the broker status document). */
  protocolVersions?: string[];
  /** Exposed tool names too long for common clients. */
  longNames: string[];
}

export function registrationReadiness(resolution: Resolution, view: ClusterView): Readiness {
  if (!resolution.ok) return { ready: false, reason: resolution.reason, message: resolution.message, longNames: [] };
  let row: PublishedServer | undefined;
  for (const namespace of resolution.namespaces) {
    row ??= view.brokerStatus(namespace)?.servers.find((server) => server.name === resolution.server.name);
  }
  if (!row || row.message === "connecting") {
    return { ready: false, reason: RegistrationReason.NotReady, message: "waiting for the broker to connect to the server", longNames: [] };
  }
  return {
    ready: row.ready,
    reason: row.ready ? RegistrationReason.Ready : RegistrationReason.NotReady,
    message: row.message,
    discoveredTools: row.ready ? row.totalTools : 0,
    ...(row.transport === undefined ? {} : { transport: row.transport }),
    ...(row.protocolVersions === undefined ? {} : { protocolVersions: row.protocolVersions }),
    longNames: namesTooLong(row.tools),
  };
}

/** Virtual servers name exposed tools; they are Ready when every one of them is served somewhere. */
export function virtualServerReadiness(tools: string[], view: ClusterView, namespaces: string[]): Verdict {
  const known = new Set<string>();
  for (const namespace of namespaces) for (const server of view.brokerStatus(namespace)?.servers ?? []) for (const tool of server.tools) known.add(tool);
  const unknown = tools.filter((tool) => !known.has(tool));
  if (unknown.length > 0) return { ready: false, reason: "UnknownTools", message: `unknown tools: ${unknown.join(", ")}` };
  return { ready: true, reason: "Ready", message: `all ${tools.length} tools are served` };
}
