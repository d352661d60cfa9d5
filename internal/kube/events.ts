// Kubernetes Events (core/v1) about our objects, the `kubectl describe` trail of what the controller decided.
// Fire-and-forget: an Event is informative, so failing to write one must never fail or slow a reconcile.
import { randomBytes } from "node:crypto";
import { CoreV1Api, type CoreV1Event, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../log/logger.js";
import type { ObjectWithMetadata } from "./resource.js";
import { withSignal } from "./request-signal.js";

const REQUEST_TIMEOUT_MS = 10_000;
/** Object names are DNS subdomains of at most 253 characters; the Event's name adds "." and 16 hex digits. */
const MAX_PREFIX = 253 - 17;

export class EventRecorder {
  private readonly api: CoreV1Api;

  constructor(
    kc: KubeConfig,
    /** source.component of every Event, e.g. "mcp-gateway-controller". */
    private readonly component: string,
    private readonly log: Logger,
  ) {
    this.api = kc.makeApiClient(CoreV1Api);
  }

  /** Records an Event about obj, in obj's namespace ("default" for cluster-scoped objects, as client-go does). */
  record(obj: ObjectWithMetadata, type: "Normal" | "Warning", reason: string, message: string): void {
    const { name = "", namespace, uid, resourceVersion } = obj.metadata;
    const eventNamespace = namespace || "default";
    const now = new Date();
    const event: CoreV1Event = {
      metadata: { name: `${name.slice(0, MAX_PREFIX)}.${randomBytes(8).toString("hex")}`, namespace: eventNamespace },
      involvedObject: { apiVersion: obj.apiVersion, kind: obj.kind, name, namespace, uid, resourceVersion },
      type,
      reason,
      message,
      source: { component: this.component },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    this.api.createNamespacedEvent({ namespace: eventNamespace, body: event }, withSignal(AbortSignal.timeout(REQUEST_TIMEOUT_MS))).catch((err: unknown) => {
      this.log.debug({ err, kind: obj.kind, namespace, name, reason }, "could not record a Kubernetes Event");
    });
  }
}
