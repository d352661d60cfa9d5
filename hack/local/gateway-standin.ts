// Plays the Gateway implementation's part on a laptop: Gateways of class `local` and the
// HTTPRoutes attached to them are marked Accepted, as Istio or Envoy Gateway would mark them in
// a cluster. The controller and the broker need no special case for the local stack.
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { Informer, type KubeObject } from "../../internal/kube/informer.js";
import type { Logger } from "../../internal/log/logger.js";
import type { Gateway, HTTPRoute } from "../../internal/controller/resources.js";

export const LOCAL_GATEWAY_CLASS = "local";
const CONTROLLER_NAME = "mcp-gateway.local/stand-in";
const GROUP = "gateway.networking.k8s.io";

function condition(type: string, generation: number | undefined) {
  return { type, status: "True", reason: type, message: "accepted by the local stand-in", observedGeneration: generation, lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, "Z") };
}

export class GatewayStandIn {
  private readonly gateways: Informer<Gateway & KubeObject>;
  private readonly routes: Informer<HTTPRoute & KubeObject>;
  private readonly api: CustomObjectsApi;

  constructor(
    kc: KubeConfig,
    private readonly log: Logger,
  ) {
    this.gateways = new Informer(kc, { group: GROUP, version: "v1", plural: "gateways" }, log);
    this.routes = new Informer(kc, { group: GROUP, version: "v1", plural: "httproutes" }, log);
    this.api = kc.makeApiClient(CustomObjectsApi);
  }

  async start(): Promise<void> {
    this.gateways.onChange((event, gateway) => {
      if (event !== "delete") void this.acceptGateway(gateway);
      for (const route of this.routes.list()) void this.acceptRoute(route);
    });
    this.routes.onChange((event, route) => {
      if (event !== "delete") void this.acceptRoute(route);
    });
    await Promise.all([this.gateways.start(), this.routes.start()]);
  }

  stop(): void {
    this.gateways.stop();
    this.routes.stop();
  }

  private isLocal(namespace: string, name: string): boolean {
    return (this.gateways.get(namespace, name)?.spec as { gatewayClassName?: string } | undefined)?.gatewayClassName === LOCAL_GATEWAY_CLASS;
  }

  private async acceptGateway(gateway: Gateway & KubeObject): Promise<void> {
    const status = gateway.status as { conditions?: Array<{ type: string; status: string }> } | undefined;
    if (gateway.spec.gatewayClassName !== LOCAL_GATEWAY_CLASS || status?.conditions?.some((c) => c.type === "Programmed" && c.status === "True")) return;
    const generation = gateway.metadata.generation;
    await this.replaceStatus("gateways", gateway, {
      addresses: [{ type: "IPAddress", value: "127.0.0.1" }],
      conditions: [condition("Accepted", generation), condition("Programmed", generation)],
    });
  }

  private async acceptRoute(route: HTTPRoute & KubeObject): Promise<void> {
    const namespace = route.metadata.namespace ?? "";
    const parents = (route.spec.parentRefs ?? [])
      .filter((ref) => (ref.kind ?? "Gateway") === "Gateway" && this.isLocal(ref.namespace ?? namespace, ref.name))
      .map((ref) => ({ parentRef: ref, controllerName: CONTROLLER_NAME, conditions: [condition("Accepted", route.metadata.generation), condition("ResolvedRefs", route.metadata.generation)] }));
    const current = route.status?.parents?.filter((parent) => parent.controllerName === CONTROLLER_NAME) ?? [];
    const same = (a: unknown[], b: unknown[]) => JSON.stringify(a.map((p) => (p as { parentRef: unknown }).parentRef)) === JSON.stringify(b.map((p) => (p as { parentRef: unknown }).parentRef));
    if (parents.length === 0 || same(parents, current)) return;
    const others = route.status?.parents?.filter((parent) => parent.controllerName !== CONTROLLER_NAME) ?? [];
    await this.replaceStatus("httproutes", route, { parents: [...others, ...parents] });
  }

  private async replaceStatus(plural: string, object: KubeObject, status: unknown): Promise<void> {
    try {
      await this.api.replaceNamespacedCustomObjectStatus({ group: GROUP, version: "v1", plural, namespace: object.metadata.namespace ?? "", name: object.metadata.name ?? "", body: { ...object, status } });
      this.log.info({ kind: plural, name: `${object.metadata.namespace}/${object.metadata.name}` }, "accepted by the local gateway stand-in");
    } catch (err) {
      // A conflict means a newer version is on its way through the informer; it is handled then.
      this.log.debug({ err: (err as Error).message }, "status update skipped");
    }
  }
}
