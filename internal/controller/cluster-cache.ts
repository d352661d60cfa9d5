// The controller's view of the cluster: one informer per kind the rules read, each a warm cache
// that every replica keeps (a follower takes over with nothing to load). Implements ClusterView
// over those caches, and tells the manager about every change, typed by source kind.
import type { KubeConfig } from "@kubernetes/client-node";
import { GATEWAY_API_GROUP, GROUP, VERSION } from "../api/group.js";
import { MCP_GATEWAY_EXTENSION, MCP_SERVER_REGISTRATION, MCP_VIRTUAL_SERVER } from "../api/resources.js";
import { BROKER_STATUS_CONFIGMAP, BROKER_STATUS_KEY, parsePublishedStatus, type PublishedStatus } from "../contract/broker-status.js";
import { Informer } from "../kube/informer.js";
import type { InformerOptions, ResourceType } from "../kube/informer.js";
import type { Logger } from "../log/logger.js";
import type { ClusterView } from "./cluster-view.js";
import type { ConfigMap, Gateway, HTTPRoute, MCPGatewayExtension, MCPServerRegistration, MCPVirtualServer, Namespace, ReferenceGrant, Secret, Service } from "./resources.js";

/** Every kind the controller watches, with the type its objects have. */
export interface Sources {
  MCPGatewayExtension: MCPGatewayExtension;
  MCPServerRegistration: MCPServerRegistration;
  MCPVirtualServer: MCPVirtualServer;
  Gateway: Gateway;
  HTTPRoute: HTTPRoute;
  ReferenceGrant: ReferenceGrant;
  Service: Service;
  Secret: Secret;
  ConfigMap: ConfigMap;
  Namespace: Namespace;
}

export type SourceKind = keyof Sources;

const SOURCES: { [K in SourceKind]: ResourceType & InformerOptions } = {
  MCPGatewayExtension: { group: GROUP, version: VERSION, plural: MCP_GATEWAY_EXTENSION.plural },
  MCPServerRegistration: { group: GROUP, version: VERSION, plural: MCP_SERVER_REGISTRATION.plural },
  MCPVirtualServer: { group: GROUP, version: VERSION, plural: MCP_VIRTUAL_SERVER.plural },
  Gateway: { group: GATEWAY_API_GROUP, version: "v1", plural: "gateways" },
  HTTPRoute: { group: GATEWAY_API_GROUP, version: "v1", plural: "httproutes" },
  ReferenceGrant: { group: GATEWAY_API_GROUP, version: "v1beta1", plural: "referencegrants" },
  Service: { group: "", version: "v1", plural: "services" },
  Secret: { group: "", version: "v1", plural: "secrets" },
  // The brokers' status documents and the OpenAPI documents registrations name: any name, as Secrets for credentials.
  ConfigMap: { group: "", version: "v1", plural: "configmaps" },
  Namespace: { group: "", version: "v1", plural: "namespaces" },
};

type Informers = { [K in SourceKind]: Informer<Sources[K]> };

export class ClusterCache implements ClusterView {
  private readonly informers: Informers;
  private readonly parsedStatus = new Map<string, { resourceVersion?: string; status: PublishedStatus }>();

  constructor(kc: KubeConfig, log: Logger) {
    const informer = <K extends SourceKind>(kind: K): Informer<Sources[K]> => {
      const { fieldSelector, ...resource } = SOURCES[kind];
      return new Informer<Sources[K]>(kc, resource, log, fieldSelector ? { fieldSelector } : {});
    };
    this.informers = {
      MCPGatewayExtension: informer("MCPGatewayExtension"),
      MCPServerRegistration: informer("MCPServerRegistration"),
      MCPVirtualServer: informer("MCPVirtualServer"),
      Gateway: informer("Gateway"),
      HTTPRoute: informer("HTTPRoute"),
      ReferenceGrant: informer("ReferenceGrant"),
      Service: informer("Service"),
      Secret: informer("Secret"),
      ConfigMap: informer("ConfigMap"),
      Namespace: informer("Namespace"),
    };
  }

  /** Calls handler with every changed object of one kind (the last seen version of a deleted one). */
  onChange<K extends SourceKind>(kind: K, handler: (object: Sources[K]) => void): void {
    this.informers[kind].onChange((_event, object) => handler(object));
  }

  /** Resolves once every cache holds its first list. */
  async start(): Promise<void> {
    await Promise.all(Object.values(this.informers).map((informer) => informer.start()));
  }

  stop(): void {
    for (const informer of Object.values(this.informers)) informer.stop();
  }

  extensions(): MCPGatewayExtension[] {
    return this.informers.MCPGatewayExtension.list();
  }
  registrations(): MCPServerRegistration[] {
    return this.informers.MCPServerRegistration.list();
  }
  virtualServers(): MCPVirtualServer[] {
    return this.informers.MCPVirtualServer.list();
  }
  extension(namespace: string, name: string): MCPGatewayExtension | undefined {
    return this.informers.MCPGatewayExtension.get(namespace, name);
  }
  registration(namespace: string, name: string): MCPServerRegistration | undefined {
    return this.informers.MCPServerRegistration.get(namespace, name);
  }
  virtualServer(namespace: string, name: string): MCPVirtualServer | undefined {
    return this.informers.MCPVirtualServer.get(namespace, name);
  }
  gateway(namespace: string, name: string): Gateway | undefined {
    return this.informers.Gateway.get(namespace, name);
  }
  route(namespace: string, name: string): HTTPRoute | undefined {
    return this.informers.HTTPRoute.get(namespace, name);
  }
  routes(namespace: string): HTTPRoute[] {
    return this.informers.HTTPRoute.list(namespace);
  }
  referenceGrants(): ReferenceGrant[] {
    return this.informers.ReferenceGrant.list();
  }
  service(namespace: string, name: string): Service | undefined {
    return this.informers.Service.get(namespace, name);
  }
  secret(namespace: string, name: string): Secret | undefined {
    return this.informers.Secret.get(namespace, name);
  }
  secrets(): Secret[] {
    return this.informers.Secret.list();
  }
  namespace(name: string): Namespace | undefined {
    return this.informers.Namespace.get("", name);
  }
  configMap(namespace: string, name: string): ConfigMap | undefined {
    return this.informers.ConfigMap.get(namespace, name);
  }
  brokerStatus(namespace: string): PublishedStatus | undefined {
    const map = this.informers.ConfigMap.get(namespace, BROKER_STATUS_CONFIGMAP);
    if (!map) return undefined;
    const cached = this.parsedStatus.get(namespace);
    if (cached && cached.resourceVersion === map.metadata.resourceVersion) return cached.status;
    const status = parsePublishedStatus(map.data?.[BROKER_STATUS_KEY]);
    this.parsedStatus.set(namespace, { resourceVersion: map.metadata.resourceVersion, status });
    return status;
  }
}
