// What the reconcilers may look at: the controller's caches, read-only. Keeping it an interface
// lets the resolution rules be tested with plain objects.
import type { PublishedStatus } from "../brokerstatus/schema.js";
import type { Gateway, HTTPRoute, MCPGatewayExtension, MCPServerRegistration, MCPVirtualServer, Namespace, ReferenceGrant, Secret, Service } from "./resources.js";

export interface ClusterView {
  extensions(): MCPGatewayExtension[];
  registrations(): MCPServerRegistration[];
  virtualServers(): MCPVirtualServer[];
  gateway(namespace: string, name: string): Gateway | undefined;
  route(namespace: string, name: string): HTTPRoute | undefined;
  referenceGrants(): ReferenceGrant[];
  service(namespace: string, name: string): Service | undefined;
  secret(namespace: string, name: string): Secret | undefined;
  namespace(name: string): Namespace | undefined;
  /** The status the broker serving this namespace published, if any. */
  brokerStatus(namespace: string): PublishedStatus | undefined;
}

export interface Verdict {
  ready: boolean;
  reason: string;
  message: string;
}
