// What every reconciler gets and gives: the cluster to read, the writer to change it, and a result
// that may ask for the request again after a delay. Reconcilers are level-triggered and idempotent:
// they read the whole current state each time, whatever change brought them.
import type { Logger } from "../../log/logger.js";
import type { ClusterView } from "../cluster-view.js";
import type { Request, Result } from "../requests.js";
import type { StatusWriter } from "../status-writer.js";
import type { ClusterWriter } from "../writers.js";

export interface ReconcileContext {
  view: ClusterView;
  client: ClusterWriter;
  status: StatusWriter;
  log: Logger;
}

export interface Reconciler<R extends Request = Request> {
  reconcile(request: R): Promise<Result>;
}
