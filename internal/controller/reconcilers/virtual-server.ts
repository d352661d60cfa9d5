// MCPVirtualServer: Ready when every tool it names is served by a broker of a valid extension.
import { validExtensions } from "../extension-validation.js";
import { virtualServerReadiness } from "../registration-readiness.js";
import { DONE, type ObjectRequest, type Result } from "../requests.js";
import type { ReconcileContext, Reconciler } from "./reconciler.js";

export class VirtualServerReconciler implements Reconciler<ObjectRequest> {
  constructor(private readonly context: ReconcileContext) {}

  async reconcile({ namespace, name }: ObjectRequest): Promise<Result> {
    const { view, status } = this.context;
    const virtualServer = view.virtualServer(namespace, name);
    if (!virtualServer || virtualServer.metadata.deletionTimestamp) return DONE;
    const namespaces = [...new Set(validExtensions(view).map((extension) => extension.metadata.namespace ?? ""))];
    await status.write("MCPVirtualServer", virtualServer, { verdict: virtualServerReadiness(virtualServer.spec.tools, view, namespaces) });
    return DONE;
  }
}
