// What depends on what, as a table: for each kind the controller watches, the requests a change
// of one of its objects enqueues. Reconcilers read everything they need from the cache, so a
// request only says what to look at again; enqueuing too much costs a no-op reconcile, too
// little a stale status.
import { BROKER_STATUS_CONFIGMAP } from "../contract/broker-status.js";
import { REGISTRY_SECRET_NAME } from "../contract/registry.js";
import { SESSION_KEY_SECRET_NAME } from "../contract/session-key.js";
import type { ClusterView } from "./cluster-view.js";
import type { Sources, SourceKind } from "./cluster-cache.js";
import { REGISTRIES, requestFor, type Request } from "./requests.js";
import { MANAGED_BY, MANAGED_BY_LABEL } from "./writers.js";

export type WatchTable = { [K in SourceKind]: (object: Sources[K], view: ClusterView) => Request[] };

const registrations = (view: ClusterView): Request[] => view.registrations().map((registration) => requestFor("MCPServerRegistration", registration.metadata));
const virtualServers = (view: ClusterView): Request[] => view.virtualServers().map((virtualServer) => requestFor("MCPVirtualServer", virtualServer.metadata));

/** Every object of our kinds and every registry. */
export function everything(view: ClusterView): Request[] {
  return [...view.extensions().map((extension) => requestFor("MCPGatewayExtension", extension.metadata)), ...registrations(view), ...virtualServers(view), REGISTRIES];
}

export const WATCHES: WatchTable = {
  // Extensions decide each other's conflicts and every registration's resolution.
  MCPGatewayExtension: (_extension, view) => everything(view),
  // Registrations decide each other's prefix conflicts: one that comes, goes or changes can free or take a prefix.
  MCPServerRegistration: (_registration, view) => [...registrations(view), REGISTRIES],
  MCPVirtualServer: (virtualServer) => [requestFor("MCPVirtualServer", virtualServer.metadata), REGISTRIES],
  Gateway: (_gateway, view) => everything(view),
  ReferenceGrant: (_grant, view) => everything(view),
  Namespace: (_namespace, view) => everything(view),
  Service: (_service, view) => everything(view),
  // A route names servers through targetRefs, or is picked (or dropped) by a selector; either way
  // it can change which server holds a prefix.
  HTTPRoute: (_route, view) => [...registrations(view), REGISTRIES],
  Secret: (secret, view) => {
    const { name, namespace } = secret.metadata;
    const requests: Request[] = [];
    if (name === REGISTRY_SECRET_NAME && secret.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY) requests.push(REGISTRIES);
    // Whoever made it: a deleted key is generated again, a changed one re-checked on its extensions.
    if (name === SESSION_KEY_SECRET_NAME) {
      requests.push(REGISTRIES);
      for (const extension of view.extensions()) if (extension.metadata.namespace === namespace) requests.push(requestFor("MCPGatewayExtension", extension.metadata));
    }
    const credentialOf = view.registrations().some((registration) => registration.metadata.namespace === namespace && registration.spec.credentialRef?.name === name);
    if (credentialOf) requests.push(...registrations(view), REGISTRIES);
    return requests;
  },
  // A broker's status says which servers are ready and which tools exist; an OpenAPI document goes into the registry.
  ConfigMap: (configMap, view) => {
    const { name, namespace } = configMap.metadata;
    const requests: Request[] = name === BROKER_STATUS_CONFIGMAP ? [...registrations(view), ...virtualServers(view)] : [];
    const documentOf = view.registrations().some((registration) => registration.metadata.namespace === namespace && registration.spec.openapi?.configMapRef?.name === name);
    if (documentOf) requests.push(...registrations(view), REGISTRIES);
    return requests;
  },
};
