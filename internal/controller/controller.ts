// The operator's reconcile loop, after controller-runtime: informers keep caches of everything
// the rules read; any change enqueues the keys that depend on it; workers reconcile one key at a
// time, level-triggered and idempotent, writing status only when it changes. Only the leader
// reconciles; every replica keeps warm caches.
import { isDeepStrictEqual } from "node:util";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Condition } from "../api/condition.js";
import { GATEWAY_API_GROUP, GROUP, VERSION } from "../api/group.js";
import { MCP_GATEWAY_EXTENSION, MCP_SERVER_REGISTRATION, MCP_VIRTUAL_SERVER } from "../api/resources.js";
import { BROKER_STATUS_CONFIGMAP, BROKER_STATUS_KEY, parsePublishedStatus, type PublishedStatus } from "../brokerstatus/schema.js";
import { apiStatusCode, describeApiError } from "../kube/api-error.js";
import { EventRecorder } from "../kube/events.js";
import { Informer, type KubeObject } from "../kube/informer.js";
import { LeaderElector } from "../kube/leader-election.js";
import { WorkQueue } from "../kube/workqueue.js";
import type { Logger } from "../log/logger.js";
import { REGISTRY_SECRET_NAME } from "../registry/secret-source.js";
import { SESSION_KEY_SECRET_NAME } from "../session/signing-key-secret.js";
import type { ClusterView, Verdict } from "./cluster-view.js";
import { findCondition, removeCondition, setCondition } from "./conditions.js";
import { validateExtension } from "./extension-validation.js";
import { ControllerMetrics } from "./metrics.js";
import { registrationReadiness, virtualServerReadiness } from "./registration-readiness.js";
import { resolveRegistration } from "./registration-resolution.js";
import { buildRegistries, renderRegistry } from "./registry-builder.js";
import { pendingRotation, SESSION_KEY_CONDITION, sessionKeyProblem } from "./session-key.js";
import type { ConfigMap, Gateway, HTTPRoute, MCPGatewayExtension, MCPServerRegistration, MCPVirtualServer, Meta, Namespace, ReferenceGrant, Secret, Service } from "./resources.js";
import { MANAGED_BY, MANAGED_BY_LABEL, Writers } from "./writers.js";

export const FINALIZER = `${GROUP}/finalizer`;
const REGISTRY_KEY = "registry";

export interface ControllerOptions {
  workers: number;
  /** Unset: this replica reconciles without an election (a single replica). */
  leaderElection?: { namespace: string; name: string; identity: string };
}

type Kind = typeof MCP_GATEWAY_EXTENSION.kind | typeof MCP_SERVER_REGISTRATION.kind | typeof MCP_VIRTUAL_SERVER.kind;

function informerOf<T>(kc: KubeConfig, log: Logger, group: string, version: string, plural: string, fieldSelector?: string): Informer<T & KubeObject> {
  return new Informer<T & KubeObject>(kc, { group, version, plural }, log, fieldSelector ? { fieldSelector } : undefined);
}

export class Controller implements ClusterView {
  readonly metrics: ControllerMetrics;
  private readonly extensionsCache: Informer<MCPGatewayExtension & KubeObject>;
  private readonly registrationsCache: Informer<MCPServerRegistration & KubeObject>;
  private readonly virtualServersCache: Informer<MCPVirtualServer & KubeObject>;
  private readonly gateways: Informer<Gateway & KubeObject>;
  private readonly routes: Informer<HTTPRoute & KubeObject>;
  private readonly grants: Informer<ReferenceGrant & KubeObject>;
  private readonly services: Informer<Service & KubeObject>;
  private readonly secrets: Informer<Secret & KubeObject>;
  private readonly statusMaps: Informer<ConfigMap & KubeObject>;
  private readonly namespaces: Informer<Namespace & KubeObject>;
  private readonly informers: Informer[];
  private readonly queue: WorkQueue;
  private readonly writers: Writers;
  private readonly events: EventRecorder;
  private readonly elector?: LeaderElector;
  private readonly parsedStatus = new Map<string, { resourceVersion?: string; status: PublishedStatus }>();
  private synced = false;
  private stopping = false;

  constructor(
    kc: KubeConfig,
    options: ControllerOptions,
    private readonly log: Logger,
  ) {
    this.extensionsCache = informerOf(kc, log, GROUP, VERSION, MCP_GATEWAY_EXTENSION.plural);
    this.registrationsCache = informerOf(kc, log, GROUP, VERSION, MCP_SERVER_REGISTRATION.plural);
    this.virtualServersCache = informerOf(kc, log, GROUP, VERSION, MCP_VIRTUAL_SERVER.plural);
    this.gateways = informerOf(kc, log, GATEWAY_API_GROUP, "v1", "gateways");
    this.routes = informerOf(kc, log, GATEWAY_API_GROUP, "v1", "httproutes");
    this.grants = informerOf(kc, log, GATEWAY_API_GROUP, "v1beta1", "referencegrants");
    this.services = informerOf(kc, log, "", "v1", "services");
    this.secrets = informerOf(kc, log, "", "v1", "secrets");
    this.statusMaps = informerOf(kc, log, "", "v1", "configmaps", `metadata.name=${BROKER_STATUS_CONFIGMAP}`);
    this.namespaces = informerOf(kc, log, "", "v1", "namespaces");
    this.informers = [this.extensionsCache, this.registrationsCache, this.virtualServersCache, this.gateways, this.routes, this.grants, this.services, this.secrets, this.statusMaps, this.namespaces] as Informer[];
    this.queue = new WorkQueue({ name: "mcp-gateway", workers: options.workers }, (key: string) => this.reconcile(key), log);
    this.metrics = new ControllerMetrics(() => this.queue.depth);
    this.writers = new Writers(kc, this.metrics);
    this.events = new EventRecorder(kc, "mcp-gateway-controller", log);
    if (options.leaderElection) this.elector = new LeaderElector(kc, options.leaderElection, log);
    this.watchDependencies();
  }

  get ready(): boolean {
    return this.synced;
  }

  get leading(): boolean {
    return this.elector ? this.elector.isLeader : this.synced;
  }

  async start(): Promise<void> {
    await Promise.all(this.informers.map((informer) => informer.start()));
    this.synced = true;
    const lead = () => {
      this.log.info("reconciling");
      this.queue.start();
      this.enqueueEverything();
    };
    if (!this.elector) return lead();
    this.elector.run({
      onStartedLeading: lead,
      onStoppedLeading: () => {
        // Stepping down on shutdown is expected; the Lease is then released for the next leader.
        if (this.stopping) return;
        // client-go's choice: a replica that lost the lease exits, and restarts as a follower.
        this.log.error("lost leadership; exiting");
        process.exit(1);
      },
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.queue.shutdown();
    await this.elector?.stop();
    for (const informer of this.informers) informer.stop();
  }

  // ---- ClusterView over the caches ----

  extensions(): MCPGatewayExtension[] {
    return this.extensionsCache.list();
  }
  registrations(): MCPServerRegistration[] {
    return this.registrationsCache.list();
  }
  virtualServers(): MCPVirtualServer[] {
    return this.virtualServersCache.list();
  }
  gateway(namespace: string, name: string): Gateway | undefined {
    return this.gateways.get(namespace, name);
  }
  route(namespace: string, name: string): HTTPRoute | undefined {
    return this.routes.get(namespace, name);
  }
  referenceGrants(): ReferenceGrant[] {
    return this.grants.list();
  }
  service(namespace: string, name: string): Service | undefined {
    return this.services.get(namespace, name);
  }
  secret(namespace: string, name: string): Secret | undefined {
    return this.secrets.get(namespace, name);
  }
  namespace(name: string): Namespace | undefined {
    return this.namespaces.get("", name);
  }
  brokerStatus(namespace: string): PublishedStatus | undefined {
    const map = this.statusMaps.get(namespace, BROKER_STATUS_CONFIGMAP);
    if (!map) return undefined;
    const cached = this.parsedStatus.get(namespace);
    if (cached && cached.resourceVersion === map.metadata.resourceVersion) return cached.status;
    const status = parsePublishedStatus(map.data?.[BROKER_STATUS_KEY]);
    this.parsedStatus.set(namespace, { resourceVersion: map.metadata.resourceVersion, status });
    return status;
  }

  // ---- what depends on what ----

  private enqueue(kind: Kind, meta: Meta): void {
    this.queue.add(`${kind}/${meta.namespace}/${meta.name}`);
  }

  private enqueueAll(kind: Kind): void {
    const cache = kind === "MCPGatewayExtension" ? this.extensionsCache : kind === "MCPServerRegistration" ? this.registrationsCache : this.virtualServersCache;
    for (const object of cache.list()) this.enqueue(kind, object.metadata as Meta);
  }

  private enqueueEverything(): void {
    this.enqueueAll("MCPGatewayExtension");
    this.enqueueAll("MCPServerRegistration");
    this.enqueueAll("MCPVirtualServer");
    this.queue.add(REGISTRY_KEY);
  }

  private watchDependencies(): void {
    const whenLeading = (fn: (object: KubeObject) => void) => (_event: string, object: KubeObject) => {
      if (this.synced) fn(object);
    };
    // Extensions decide each other's conflicts and every registration's resolution.
    this.extensionsCache.onChange(whenLeading(() => this.enqueueEverything()));
    this.registrationsCache.onChange(whenLeading((object) => this.enqueue("MCPServerRegistration", object.metadata as Meta)));
    this.virtualServersCache.onChange(
      whenLeading((object) => {
        this.enqueue("MCPVirtualServer", object.metadata as Meta);
        this.queue.add(REGISTRY_KEY);
      }),
    );
    for (const informer of [this.gateways, this.grants, this.namespaces, this.services] as Informer[]) informer.onChange(whenLeading(() => this.enqueueEverything()));
    this.routes.onChange(
      whenLeading((object) => {
        const route = object as HTTPRoute & KubeObject;
        for (const registration of this.registrations()) {
          const target = registration.spec.targetRef;
          if (target.name === route.metadata.name && (target.namespace ?? registration.metadata.namespace) === route.metadata.namespace) this.enqueue("MCPServerRegistration", registration.metadata);
        }
      }),
    );
    this.secrets.onChange(
      whenLeading((object) => {
        const secret = object as Secret & KubeObject;
        if (secret.metadata.name === REGISTRY_SECRET_NAME && secret.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY) this.queue.add(REGISTRY_KEY);
        // Whoever made it: a deleted key is generated again, a changed one re-checked on its extensions.
        if (secret.metadata.name === SESSION_KEY_SECRET_NAME) {
          this.queue.add(REGISTRY_KEY);
          for (const extension of this.extensions()) {
            if (extension.metadata.namespace === secret.metadata.namespace) this.enqueue("MCPGatewayExtension", extension.metadata);
          }
        }
        for (const registration of this.registrations()) {
          if (registration.metadata.namespace === secret.metadata.namespace && registration.spec.credentialRef?.name === secret.metadata.name) this.enqueue("MCPServerRegistration", registration.metadata);
        }
      }),
    );
    this.statusMaps.onChange(
      whenLeading(() => {
        this.enqueueAll("MCPServerRegistration");
        this.enqueueAll("MCPVirtualServer");
      }),
    );
  }

  // ---- reconcilers ----

  private async reconcile(key: string): Promise<void> {
    const [kind = "", namespace = "", name = ""] = key.split("/");
    const started = performance.now();
    try {
      if (kind === REGISTRY_KEY) await this.syncRegistries();
      else if (kind === MCP_GATEWAY_EXTENSION.kind) await this.reconcileExtension(namespace, name);
      else if (kind === MCP_SERVER_REGISTRATION.kind) await this.reconcileRegistration(namespace, name);
      else if (kind === MCP_VIRTUAL_SERVER.kind) await this.reconcileVirtualServer(namespace, name);
      this.metrics.reconciles.inc({ kind, result: "success" });
    } catch (err) {
      if (apiStatusCode(err) === 409) {
        // Optimistic concurrency at work: the newer object is on its way through the informer.
        this.metrics.reconciles.inc({ kind, result: "conflict" });
        this.log.debug({ key }, "conflict; reconciling again");
        this.queue.add(key);
        return;
      }
      this.metrics.reconciles.inc({ kind, result: "error" });
      throw new Error(describeApiError(err), { cause: err });
    } finally {
      this.metrics.reconcileDuration.observe({ kind }, (performance.now() - started) / 1000);
    }
  }

  private validExtensions(): MCPGatewayExtension[] {
    return this.extensions().filter((extension) => !extension.metadata.deletionTimestamp && validateExtension(extension, this).ready);
  }

  private async reconcileExtension(namespace: string, name: string): Promise<void> {
    const extension = this.extensionsCache.get(namespace, name);
    if (!extension || extension.metadata.deletionTimestamp) return;
    const verdict = validateExtension(extension, this);
    const keyProblem = verdict.ready ? sessionKeyProblem(namespace, this.secret(namespace, SESSION_KEY_SECRET_NAME)) : undefined;
    const reported = findCondition(extension.status?.conditions, SESSION_KEY_CONDITION);
    const keyCondition = (conditions: Condition[] | undefined) => (keyProblem ? setCondition(conditions, keyProblem, extension.metadata.generation) : removeCondition(conditions, SESSION_KEY_CONDITION));
    await this.writeStatus(MCP_GATEWAY_EXTENSION.plural, extension, verdict, {}, keyCondition);
    if (keyProblem && keyProblem.message !== reported?.message) {
      this.log.warn({ namespace, secret: SESSION_KEY_SECRET_NAME, problem: keyProblem.message }, "session key unusable; left as it is");
      this.events.record(extension as KubeObject, "Warning", keyProblem.reason, keyProblem.message);
    }
    this.queue.add(REGISTRY_KEY);
  }

  private async reconcileRegistration(namespace: string, name: string): Promise<void> {
    const registration = this.registrationsCache.get(namespace, name);
    if (!registration) return;
    const finalizers = registration.metadata.finalizers ?? [];
    if (registration.metadata.deletionTimestamp) {
      if (!finalizers.includes(FINALIZER)) return;
      // The broker must stop serving the server before the resource may go.
      await this.syncRegistries();
      await this.writers.finalizers(MCP_SERVER_REGISTRATION.plural, registration, finalizers.filter((f: string) => f !== FINALIZER));
      return;
    }
    if (!finalizers.includes(FINALIZER)) {
      await this.writers.finalizers(MCP_SERVER_REGISTRATION.plural, registration, [...finalizers, FINALIZER]);
      return; // the update comes back through the informer and is reconciled then
    }
    const readiness = registrationReadiness(resolveRegistration(registration, this, this.validExtensions()), this);
    const generation = registration.metadata.generation;
    // A warning rides along as its own condition, so Ready keeps meaning "in use".
    const nameWarning = (conditions: Condition[] | undefined) =>
      readiness.longNames.length > 0
        ? setCondition(conditions, { type: "ToolNamesValid", status: "False", reason: "ToolNameTooLong", message: `tool names longer than 64 characters break common clients: ${readiness.longNames.join(", ")}` }, generation)
        : removeCondition(conditions, "ToolNamesValid");
    await this.writeStatus(MCP_SERVER_REGISTRATION.plural, registration, readiness, { discoveredTools: readiness.discoveredTools ?? 0 }, nameWarning);
    this.queue.add(REGISTRY_KEY);
  }

  private async reconcileVirtualServer(namespace: string, name: string): Promise<void> {
    const virtualServer = this.virtualServersCache.get(namespace, name);
    if (!virtualServer || virtualServer.metadata.deletionTimestamp) return;
    const namespaces = [...new Set(this.validExtensions().map((extension) => extension.metadata.namespace ?? ""))];
    await this.writeStatus(MCP_VIRTUAL_SERVER.plural, virtualServer, virtualServerReadiness(virtualServer.spec.tools, this, namespaces), {});
  }

  /**
   * Writes each valid extension's registry Secret, and empties managed ones no valid extension needs any more.
   * Each of those namespaces also gets a session key Secret when it has none (first, so a broker finds it).
   */
  private async syncRegistries(): Promise<void> {
    const valid = this.validExtensions();
    for (const namespace of new Set(valid.map((extension) => extension.metadata.namespace ?? ""))) {
      const secret = this.secrets.get(namespace, SESSION_KEY_SECRET_NAME);
      if (!secret) {
        // A Secret the cache has not seen yet answers 409, and the key is reconciled again once it has.
        await this.writers.sessionKey(namespace);
        this.log.info({ namespace, secret: SESSION_KEY_SECRET_NAME }, "session key generated");
        continue;
      }
      const rotation = pendingRotation(secret);
      if (rotation) {
        await this.writers.rotateSessionKey(secret, rotation);
        this.log.info({ namespace, secret: SESSION_KEY_SECRET_NAME, rotation }, "session key rotated");
      }
    }
    const resolutions = this.registrations()
      .filter((registration) => !registration.metadata.deletionTimestamp)
      .map((registration) => resolveRegistration(registration, this, valid));
    const registries = buildRegistries(valid, resolutions, this.virtualServers());
    for (const secret of this.secrets.list()) {
      const namespace = secret.metadata.namespace ?? "";
      if (secret.metadata.name === REGISTRY_SECRET_NAME && secret.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY && !registries.has(namespace)) {
        registries.set(namespace, { servers: [], virtualServers: [] });
      }
    }
    for (const [namespace, registry] of registries) {
      if (await this.writers.registry(namespace, this.secrets.get(namespace, REGISTRY_SECRET_NAME), renderRegistry(registry))) {
        this.log.info({ namespace, servers: registry.servers.length }, "registry written");
      }
    }
  }

  /** Sets Ready from the verdict and writes the status only if anything in it changed. */
  private async writeStatus(
    plural: string,
    object: { metadata: Meta; status?: { conditions?: Condition[] } & Record<string, unknown> },
    verdict: Verdict,
    extra: Record<string, unknown>,
    otherConditions: (conditions: Condition[] | undefined) => Condition[] | undefined = (conditions) => conditions,
  ): Promise<void> {
    const generation = object.metadata.generation;
    const previous = findCondition(object.status?.conditions, "Ready");
    const conditions = setCondition(otherConditions(object.status?.conditions), { type: "Ready", status: verdict.ready ? "True" : "False", reason: verdict.reason, message: verdict.message }, generation);
    const status = { ...object.status, ...extra, conditions, observedGeneration: generation };
    // The API server returns keys in its own order: compare values, not serializations.
    if (isDeepStrictEqual(status, object.status)) return;
    await this.writers.status(plural, object, status);
    if (previous?.status !== (verdict.ready ? "True" : "False") || previous?.reason !== verdict.reason || previous?.message !== verdict.message) {
      this.events.record(object as KubeObject, verdict.ready ? "Normal" : "Warning", verdict.reason, verdict.message);
    }
  }
}
