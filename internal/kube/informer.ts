// A list+watch cache of one resource, like client-go's reflector and informer: list once, then watch from the
// list's resourceVersion and apply every event to the cache. It outlives what ends a watch:
//  - the server closing it (timeout) -> watch again from the last resourceVersion;
//  - 410 Gone (resourceVersion expired, e.g. after an API server restart) -> list again; objects that vanished
//    in the gap get a delete event then;
//  - any other failure (server down, connection reset, 5xx, 403) -> retry with exponential backoff,
//    logged at warn once per outage and at info when it is over.
// Not client-node's ListWatch: it stops for good on the first error that is not a 410, cannot say when its
// cache is synced, and reports its own stop() as an error.
import { setTimeout as sleep } from "node:timers/promises";
import { Watch, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../log/logger.js";
import { Backoff } from "../retry/backoff.js";
import { apiStatusCode, describeApiError } from "./api-error.js";
import { ApiError, listObjects } from "./list-objects.js";
import { ObjectStore, type ChangeEvent } from "./object-store.js";
import { OutageLog } from "./outage-log.js";
import { resourcePath, type KubeObject, type ObjectWithMetadata, type ResourceType } from "./resource.js";

export type { KubeObject, ObjectWithMetadata, ResourceType };
export type InformerEvent = ChangeEvent;

export interface InformerOptions {
  /** Watch one namespace only; default all namespaces (or a cluster-scoped resource). */
  namespace?: string;
  /** A field selector, e.g. "metadata.name=foo" or "type=kubernetes.io/tls". */
  fieldSelector?: string;
}

// client-node's Watch aborts a watch that received nothing for 30 s, and the API server sends nothing on a
// quiet watch. So have the server end it first: a clean close instead of a client-side timeout that looks
// like a failure. (With allowWatchBookmarks the server also sends a bookmark shortly before, if the
// resourceVersion moved on meanwhile, so the next watch starts from a fresh one.)
const WATCH_TIMEOUT_SECONDS = 25;

export class Informer<T extends ObjectWithMetadata = KubeObject> {
  private readonly store = new ObjectStore<T>();
  private readonly handlers: Array<(event: InformerEvent, obj: T) => void> = [];
  private readonly path: string;
  private readonly watcher: Watch;
  private readonly backoff = new Backoff({ initialMs: 500, maxMs: 10_000 });
  private readonly outage: OutageLog;
  private readonly stopping = new AbortController();
  /** Where the next watch starts; undefined: list first. */
  private resourceVersion: string | undefined;
  private activeWatch: AbortController | undefined;
  private initialSync: PromiseWithResolvers<void> | undefined;
  private isSynced = false;

  constructor(
    private readonly kc: KubeConfig,
    resource: ResourceType,
    private readonly log: Logger,
    private readonly options: InformerOptions = {},
  ) {
    this.path = resourcePath(resource, options.namespace);
    this.watcher = new Watch(kc);
    this.outage = new OutageLog(log, { resource: this.path }, "kube list/watch");
  }

  /** True once the first list is in the cache. */
  get synced(): boolean {
    return this.isSynced;
  }

  /**
   * Starts listing and watching (once per informer); resolves once the first list is in the cache (after its
   * "add" events), and keeps retrying until then. Register handlers before, or read list() after, to see
   * every object.
   */
  start(): Promise<void> {
    if (this.initialSync) throw new Error(`informer for ${this.path} already started`);
    this.initialSync = Promise.withResolvers();
    void this.run();
    return this.initialSync.promise;
  }

  /** Ends the watch for good; a start() still waiting for its first list rejects. The cache keeps its content. */
  stop(): void {
    this.stopping.abort();
    this.activeWatch?.abort();
    if (!this.isSynced) this.initialSync?.reject(new Error(`informer for ${this.path} stopped before its first list`));
  }

  /** namespace "" for cluster-scoped objects. */
  get(namespace: string, name: string): T | undefined {
    return this.store.get(namespace, name);
  }

  list(namespace?: string): T[] {
    return this.store.list(namespace);
  }

  /** Called for every change of the cache, in order. A handler that throws is logged and does not stop the others. */
  onChange(handler: (event: InformerEvent, obj: T) => void): void {
    this.handlers.push(handler);
  }

  private async run(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      try {
        if (this.resourceVersion === undefined) await this.relist();
        await this.watchOnce();
      } catch (err) {
        if (this.stopping.signal.aborted) return;
        if (apiStatusCode(err) === 410) {
          this.log.debug({ resource: this.path, err: describeApiError(err) }, "kube watch expired; listing again");
          this.resourceVersion = undefined;
          continue;
        }
        this.outage.failed(err);
        await sleep(this.backoff.next(), undefined, { signal: this.stopping.signal }).catch(() => undefined);
      }
    }
  }

  private async relist(): Promise<void> {
    const list = await listObjects<T>(this.kc, this.path, this.selector(), this.stopping.signal);
    this.recovered();
    for (const [event, obj] of this.store.replace(list.items)) this.emit(event, obj);
    this.resourceVersion = list.resourceVersion;
    if (!this.isSynced) {
      this.isSynced = true;
      this.initialSync?.resolve();
    }
  }

  /** One watch request: resolves when the server ends it, rejects on a failure (ApiError 410 when expired). */
  private watchOnce(): Promise<void> {
    const query = { ...this.selector(), resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: WATCH_TIMEOUT_SECONDS };
    return new Promise((resolve, reject) => {
      let ended = false;
      let failure: ApiError | undefined;
      const done = (err: unknown) => {
        ended = true;
        this.activeWatch = undefined;
        if (failure ?? err) reject(failure ?? err);
        else resolve();
      };
      const onEvent = (type: string, obj: T) => {
        if (type === "ERROR") {
          // A metav1.Status; the server ends the watch after it, and we make sure it does.
          const status = obj as unknown as { code?: number; message?: string };
          failure = new ApiError(status.code ?? 500, status.message ?? "watch error");
          this.activeWatch?.abort();
          return;
        }
        this.apply(type, obj);
      };
      this.watcher.watch(this.path, query, onEvent, done).then((controller) => {
        // Resolved once the server answered; if it answered with an error, done() has run already.
        if (ended) return;
        this.activeWatch = controller;
        this.recovered();
        if (this.stopping.signal.aborted) controller.abort();
      }, done);
    });
  }

  private apply(type: string, obj: T): void {
    if (type === "ADDED" || type === "MODIFIED") {
      const event = this.store.upsert(obj);
      if (event) this.emit(event, obj);
    } else if (type === "DELETED") {
      if (this.store.remove(obj.metadata.namespace ?? "", obj.metadata.name ?? "")) this.emit("delete", obj);
    }
    // BOOKMARK carries nothing but the resourceVersion.
    this.resourceVersion = obj.metadata.resourceVersion ?? this.resourceVersion;
  }

  private emit(event: InformerEvent, obj: T): void {
    for (const handler of this.handlers) {
      try {
        handler(event, obj);
      } catch (err) {
        this.log.error({ err, resource: this.path, event, namespace: obj.metadata.namespace, name: obj.metadata.name }, "informer handler failed");
      }
    }
  }

  private selector(): Record<string, string> {
    return this.options.fieldSelector ? { fieldSelector: this.options.fieldSelector } : {};
  }

  private recovered(): void {
    this.backoff.reset();
    this.outage.succeeded();
  }
}
