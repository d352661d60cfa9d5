// The registry Secret of every valid extension's namespace: what its broker serves. Managed ones
// no valid extension needs any more are emptied, never deleted (a broker keeps its last good
// registry when the Secret vanishes). Each of those namespaces also gets a session key Secret when
// it has none (first, so a broker finds it), rotated when a user asks for it by annotation.
import { REGISTRY_SECRET_NAME } from "../../contract/registry.js";
import { SESSION_KEY_SECRET_NAME } from "../../contract/session-key.js";
import { validExtensions } from "../extension-validation.js";
import { resolveAll, servedResolutions } from "../prefix-claims.js";
import { buildRegistries, renderRegistry } from "../registry-builder.js";
import { DONE, type RegistriesRequest, type Result } from "../requests.js";
import { pendingRotation } from "../session-key.js";
import { MANAGED_BY, MANAGED_BY_LABEL } from "../writers.js";
import type { ReconcileContext, Reconciler } from "./reconciler.js";

export class RegistriesReconciler implements Reconciler<RegistriesRequest> {
  constructor(private readonly context: ReconcileContext) {}

  async reconcile(): Promise<Result> {
    const { view, client, log } = this.context;
    const valid = validExtensions(view);
    for (const namespace of new Set(valid.map((extension) => extension.metadata.namespace ?? ""))) {
      const secret = view.secret(namespace, SESSION_KEY_SECRET_NAME);
      if (!secret) {
        // A Secret the cache has not seen yet answers 409, and the request runs again once it has.
        await client.sessionKey(namespace);
        log.info({ namespace, secret: SESSION_KEY_SECRET_NAME }, "session key generated");
        continue;
      }
      const rotation = pendingRotation(secret);
      if (rotation) {
        await client.rotateSessionKey(secret, rotation);
        log.info({ namespace, secret: SESSION_KEY_SECRET_NAME, rotation }, "session key rotated");
      }
    }
    const registries = buildRegistries(valid, servedResolutions(resolveAll(view, valid)), view.virtualServers());
    for (const secret of view.secrets()) {
      const namespace = secret.metadata.namespace ?? "";
      if (secret.metadata.name === REGISTRY_SECRET_NAME && secret.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY && !registries.has(namespace)) {
        registries.set(namespace, { servers: [], virtualServers: [] });
      }
    }
    for (const [namespace, registry] of registries) {
      if (await client.registry(namespace, view.secret(namespace, REGISTRY_SECRET_NAME), renderRegistry(registry))) {
        log.info({ namespace, servers: registry.servers.length }, "registry written");
      }
    }
    return DONE;
  }
}
