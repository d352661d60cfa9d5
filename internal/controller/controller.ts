// The operator, assembled: the cluster cache, the writers, one reconciler per request kind and the
// watch table, run by a manager (controller-runtime's shape). cmd/controller owns the process.
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../log/logger.js";
import { ClusterCache } from "./cluster-cache.js";
import { Manager } from "./manager.js";
import { ControllerMetrics } from "./metrics.js";
import { ExtensionReconciler } from "./reconcilers/extension.js";
import type { ReconcileContext } from "./reconcilers/reconciler.js";
import { RegistrationReconciler } from "./reconcilers/registration.js";
import { RegistriesReconciler } from "./reconcilers/registries.js";
import { VirtualServerReconciler } from "./reconcilers/virtual-server.js";
import { StatusWriter } from "./status-writer.js";
import { WATCHES } from "./watches.js";
import { Writers } from "./writers.js";

export interface ControllerOptions {
  workers: number;
  /** Unset: this replica reconciles without an election (a single replica). */
  leaderElection?: { namespace: string; name: string; identity: string };
}

export interface Controller {
  manager: Manager;
  metrics: ControllerMetrics;
}

export function newController(kc: KubeConfig, options: ControllerOptions, log: Logger): Controller {
  const metrics = new ControllerMetrics();
  const cache = new ClusterCache(kc, log);
  const client = new Writers(kc, metrics, log);
  const context: ReconcileContext = { view: cache, client, status: new StatusWriter(client), log };
  const registries = new RegistriesReconciler(context);
  const reconcilers = {
    Registries: registries,
    MCPGatewayExtension: new ExtensionReconciler(context),
    MCPServerRegistration: new RegistrationReconciler(context, registries),
    MCPVirtualServer: new VirtualServerReconciler(context),
  };
  const leaderElection = options.leaderElection ? { ...options.leaderElection, kc } : undefined;
  return { manager: new Manager(cache, WATCHES, reconcilers, metrics, { workers: options.workers, leaderElection }, log), metrics };
}
