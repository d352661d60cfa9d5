// What the reconcilers may look at: the controller's caches, read-only. Keeping it an interface
// lets the rules and the reconcilers be tested over plain objects.
import type { PublishedStatus } from "../contract/broker-status.js";
import type { ConfigMap, Gateway, HTTPRoute, MCPGatewayExtension, MCPServerRegistration, MCPVirtualServer, Namespace, ReferenceGrant, Secret, Service } from "./resources.js";

export interface ClusterView {
  extensions(): MCPGatewayExtension[];
  registrations(): MCPServerRegistration[];
  virtualServers(): MCPVirtualServer[];
  extension(namespace: string, name: string): MCPGatewayExtension | undefined;
  registration(namespace: string, name: string): MCPServerRegistration | undefined;
  virtualServer(namespace: string, name: string): MCPVirtualServer | undefined;
  gateway(namespace: string, name: string): Gateway | undefined;
  route(namespace: string, name: string): HTTPRoute | undefined;
  /** The HTTPRoutes of one namespace. */
  routes(namespace: string): HTTPRoute[];
  referenceGrants(): ReferenceGrant[];
  service(namespace: string, name: string): Service | undefined;
  secret(namespace: string, name: string): Secret | undefined;
  secrets(): Secret[];
  namespace(name: string): Namespace | undefined;
  configMap(namespace: string, name: string): ConfigMap | undefined;
  /** The status the broker serving this namespace published, if any. */
  brokerStatus(namespace: string): PublishedStatus | undefined;
}

export interface Verdict {
  ready: boolean;
  reason: string;
  message: string;
}
