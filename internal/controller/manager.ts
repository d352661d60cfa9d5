// The controller-runtime manager: it starts the cache, campaigns for leadership, and while leading
// feeds the work queue from the watch table and hands each request to the reconciler of its kind.
// Every replica keeps warm caches; only the leader reconciles. It never ends the process: losing
// the lease ends its run, and `stopped` tells the caller why, who decides what to do about it.
import type { KubeConfig } from "@kubernetes/client-node";
import { apiStatusCode, describeApiError } from "../kube/api-error.js";
import { LeaderElector, type LeaderElectionOptions } from "../kube/leader-election.js";
import { WorkQueue } from "../kube/workqueue.js";
import type { Logger } from "../log/logger.js";
import type { ClusterView } from "./cluster-view.js";
import type { Sources, SourceKind } from "./cluster-cache.js";
import type { ControllerMetrics } from "./metrics.js";
import type { Reconciler } from "./reconcilers/reconciler.js";
import { requestId, type ObjectRequest, type RegistriesRequest, type Request, type Result } from "./requests.js";
import { everything, type WatchTable } from "./watches.js";

/** What the manager needs of the cache: the view the reconcilers read, and its lifecycle. */
export interface Cache extends ClusterView {
  start(): Promise<void>;
  stop(): void;
  onChange<K extends SourceKind>(kind: K, handler: (object: Sources[K]) => void): void;
}

export interface Reconcilers {
  Registries: Reconciler<RegistriesRequest>;
  MCPGatewayExtension: Reconciler<ObjectRequest>;
  MCPServerRegistration: Reconciler<ObjectRequest>;
  MCPVirtualServer: Reconciler<ObjectRequest>;
}

/** Why a manager stopped: asked to, or it lost its lease (client-go's answer: exit and start again as a follower). */
export type StopReason = "shutdown" | "lost-leadership";

export interface ManagerOptions {
  workers: number;
  /** Unset: this replica reconciles without an election (a single replica). */
  leaderElection?: LeaderElectionOptions & { kc: KubeConfig };
}

export class Manager {
  /** Resolves once the manager stopped, with the reason. */
  readonly stopped: Promise<StopReason>;
  private readonly queue: WorkQueue<Request>;
  private readonly elector?: LeaderElector;
  private readonly stop_ = Promise.withResolvers<StopReason>();
  private synced = false;
  private reconciling = false;
  private stopping = false;

  constructor(
    private readonly cache: Cache,
    private readonly watches: WatchTable,
    private readonly reconcilers: Reconcilers,
    private readonly metrics: ControllerMetrics,
    options: ManagerOptions,
    private readonly log: Logger,
  ) {
    this.stopped = this.stop_.promise;
    this.queue = new WorkQueue<Request>({ name: "mcp-gateway", workers: options.workers }, (request) => this.reconcile(request), log, requestId);
    metrics.queueDepth = () => this.queue.depth;
    if (options.leaderElection) {
      const { kc, ...election } = options.leaderElection;
      this.elector = new LeaderElector(kc, election, log);
    }
    for (const kind of Object.keys(watches) as SourceKind[]) this.watch(kind);
  }

  /** True once the cache holds its first lists. */
  get ready(): boolean {
    return this.synced;
  }

  get leading(): boolean {
    return this.elector ? this.elector.isLeader : this.synced;
  }

  /** Enqueues a request; while not leading it waits for the queue to start. */
  enqueue(request: Request): void {
    this.queue.add(request);
  }

  async start(): Promise<void> {
    await this.cache.start();
    this.synced = true;
    const lead = () => {
      this.log.info("reconciling");
      this.reconciling = true;
      this.queue.start();
      for (const request of everything(this.cache)) this.queue.add(request);
    };
    if (!this.elector) return lead();
    this.elector.run({
      onStartedLeading: lead,
      onStoppedLeading: () => {
        // Stepping down on shutdown is expected; the Lease is then released for the next leader.
        if (this.stopping) return;
        this.log.error("lost leadership");
        void this.shutdown("lost-leadership");
      },
    });
  }

  stop(): Promise<void> {
    return this.shutdown("shutdown");
  }

  private async shutdown(reason: StopReason): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.reconciling = false;
    await this.queue.shutdown();
    await this.elector?.stop();
    this.cache.stop();
    this.stop_.resolve(reason);
  }

  private watch<K extends SourceKind>(kind: K): void {
    const requestsOf = this.watches[kind];
    this.cache.onChange(kind, (object) => {
      if (!this.reconciling) return;
      for (const request of requestsOf(object, this.cache)) this.queue.add(request);
    });
  }

  private async reconcile(request: Request): Promise<void> {
    const kind = request.kind;
    const started = performance.now();
    let result: Result;
    try {
      result = await this.dispatch(request);
      this.metrics.reconciles.inc({ kind, result: "success" });
    } catch (err) {
      if (apiStatusCode(err) === 409) {
        // Optimistic concurrency at work: the newer object is on its way through the cache.
        this.metrics.reconciles.inc({ kind, result: "conflict" });
        this.log.debug({ request }, "conflict; reconciling again");
        this.queue.add(request);
        return;
      }
      this.metrics.reconciles.inc({ kind, result: "error" });
      throw new Error(describeApiError(err), { cause: err });
    } finally {
      this.metrics.reconcileDuration.observe({ kind }, (performance.now() - started) / 1000);
    }
    if (result.requeueAfterMs !== undefined) this.queue.addAfter(request, result.requeueAfterMs);
  }

  private dispatch(request: Request): Promise<Result> {
    switch (request.kind) {
      case "Registries":
        return this.reconcilers.Registries.reconcile(request);
      case "MCPGatewayExtension":
        return this.reconcilers.MCPGatewayExtension.reconcile(request);
      case "MCPServerRegistration":
        return this.reconcilers.MCPServerRegistration.reconcile(request);
      case "MCPVirtualServer":
        return this.reconcilers.MCPVirtualServer.reconcile(request);
    }
  }
}
