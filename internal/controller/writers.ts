// Everything the controller writes: resource status (through the status subresource), finalizers,
// the registry Secrets, the session key Secrets and Events. Each API write is counted, so a restart that rewrites
// nothing can be seen. The reconcilers see the ClusterWriter interface, so they run over an in-memory one in tests.
import { randomBytes } from "node:crypto";
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Secret } from "@kubernetes/client-node";
import { GROUP, VERSION } from "../api/group.js";
import { RESOURCE_OF, type OwnKind } from "../api/resources.js";
import { EventRecorder } from "../kube/events.js";
import type { Logger } from "../log/logger.js";
import { REGISTRY_SECRET_KEY, REGISTRY_SECRET_NAME } from "../contract/registry.js";
import { ROTATED_ANNOTATION, SESSION_KEY_BYTES, SESSION_KEY_PREVIOUS_KEY, SESSION_KEY_SECRET_KEY, SESSION_KEY_SECRET_NAME } from "../contract/session-key.js";
import type { ControllerMetrics } from "./metrics.js";
import type { Meta, OwnResource, Secret } from "./resources.js";

export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY = "mcp-gateway-controller";

export type EventType = "Normal" | "Warning";

export interface ClusterWriter {
  /** Replaces the status; the resourceVersion makes a stale write fail (409) and the request retry. */
  status(kind: OwnKind, object: OwnResource, status: Record<string, unknown>): Promise<void>;
  finalizers(kind: OwnKind, object: OwnResource, finalizers: string[]): Promise<void>;
  /** Writes the registry Secret unless it already holds exactly this text; true when it wrote. */
  registry(namespace: string, current: Secret | undefined, text: string): Promise<boolean>;
  /** Creates the session key Secret with a new random key; an existing one answers 409 and is left alone. */
  sessionKey(namespace: string): Promise<void>;
  rotateSessionKey(secret: Secret, rotation: string): Promise<void>;
  /** Records an Event; never fails. */
  event(object: OwnResource, type: EventType, reason: string, message: string): void;
}

/** Where one of our resources lives, as CustomObjectsApi takes it. */
function address(plural: string, meta: Meta) {
  return { group: GROUP, version: VERSION, plural, namespace: meta.namespace ?? "", name: meta.name };
}

export class Writers implements ClusterWriter {
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly events: EventRecorder;

  constructor(
    kc: KubeConfig,
    private readonly metrics: ControllerMetrics,
    log: Logger,
  ) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
    this.events = new EventRecorder(kc, MANAGED_BY, log);
  }

  async status(kind: OwnKind, object: OwnResource, status: Record<string, unknown>): Promise<void> {
    const { plural } = RESOURCE_OF[kind];
    await this.custom.replaceNamespacedCustomObjectStatus({ ...address(plural, object.metadata), body: { ...object, status } });
    this.metrics.writes.inc({ kind: plural, what: "status" });
  }

  async finalizers(kind: OwnKind, object: OwnResource, finalizers: string[]): Promise<void> {
    const { plural } = RESOURCE_OF[kind];
    await this.custom.replaceNamespacedCustomObject({ ...address(plural, object.metadata), body: { ...object, metadata: { ...object.metadata, finalizers } } });
    this.metrics.writes.inc({ kind: plural, what: "finalizers" });
  }

  event(object: OwnResource, type: EventType, reason: string, message: string): void {
    this.events.record(object, type, reason, message);
  }

  async registry(namespace: string, current: Secret | undefined, text: string): Promise<boolean> {
    const encoded = Buffer.from(text).toString("base64");
    if (current?.data?.[REGISTRY_SECRET_KEY] === encoded) return false;
    const body: V1Secret = {
      metadata: { name: REGISTRY_SECRET_NAME, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY }, resourceVersion: current?.metadata.resourceVersion },
      type: "Opaque",
      data: { [REGISTRY_SECRET_KEY]: encoded },
    };
    if (current) await this.core.replaceNamespacedSecret({ name: REGISTRY_SECRET_NAME, namespace, body });
    else await this.core.createNamespacedSecret({ namespace, body });
    this.metrics.writes.inc({ kind: "secrets", what: "registry" });
    return true;
  }

  async sessionKey(namespace: string): Promise<void> {
    const body: V1Secret = {
      metadata: { name: SESSION_KEY_SECRET_NAME, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } },
      type: "Opaque",
      data: { [SESSION_KEY_SECRET_KEY]: randomBytes(SESSION_KEY_BYTES).toString("base64") },
    };
    await this.core.createNamespacedSecret({ namespace, body });
    this.metrics.writes.inc({ kind: "secrets", what: "session-key" });
  }

  /**
   * A new random key; the one it replaces becomes `previous` (when usable), so brokers keep
   * accepting the sessions it signed. Recording `rotation` makes the request happen once; the
   * resourceVersion makes a write over a newer Secret fail (409) and the key retry.
   */
  async rotateSessionKey(secret: Secret, rotation: string): Promise<void> {
    const data = { ...secret.data };
    const old = data[SESSION_KEY_SECRET_KEY];
    if (old && Buffer.from(old, "base64").length >= SESSION_KEY_BYTES) data[SESSION_KEY_PREVIOUS_KEY] = old;
    else delete data[SESSION_KEY_PREVIOUS_KEY];
    data[SESSION_KEY_SECRET_KEY] = randomBytes(SESSION_KEY_BYTES).toString("base64");
    const { name, namespace, labels, annotations, resourceVersion } = secret.metadata;
    const body: V1Secret = { metadata: { name, namespace, labels, resourceVersion, annotations: { ...annotations, [ROTATED_ANNOTATION]: rotation } }, type: secret.type, data };
    await this.core.replaceNamespacedSecret({ name: SESSION_KEY_SECRET_NAME, namespace: secret.metadata.namespace ?? "", body });
    this.metrics.writes.inc({ kind: "secrets", what: "session-key" });
  }
}
