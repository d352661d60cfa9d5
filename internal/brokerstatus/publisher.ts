// Broker side of the hand-off: writes the discovery status of every server to the ConfigMap
// `mcp-gateway-status` next to its registry Secret, whenever it changes (coalesced), and only
// then, so an idle gateway makes no API calls.
import { CoreV1Api, type KubeConfig, type V1ConfigMap } from "@kubernetes/client-node";
import type { Logger } from "../log/logger.js";
import { BROKER_STATUS_CONFIGMAP, BROKER_STATUS_KEY, type PublishedStatus } from "../contract/broker-status.js";

const COALESCE_MS = 100;
const RETRY_MS = 1_000;

export class StatusPublisher {
  private readonly api: CoreV1Api;
  private pending?: NodeJS.Timeout;
  private published?: string;
  private stopped = false;

  constructor(
    kc: KubeConfig,
    private readonly namespace: string,
    private readonly snapshot: () => PublishedStatus,
    private readonly log: Logger,
  ) {
    this.api = kc.makeApiClient(CoreV1Api);
  }

  /** Something changed: publish soon (changes in quick succession make one write). */
  changed(): void {
    if (this.stopped || this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      void this.publish();
    }, COALESCE_MS);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.pending);
  }

  private async publish(): Promise<void> {
    const text = JSON.stringify(this.snapshot());
    if (text === this.published) return;
    try {
      await this.write(text);
      this.published = text;
    } catch (err) {
      this.log.warn({ err: (err as Error).message, namespace: this.namespace }, "could not publish broker status; retrying");
      if (!this.stopped) this.pending = setTimeout(() => {
        this.pending = undefined;
        void this.publish();
      }, RETRY_MS);
    }
  }

  private async write(text: string): Promise<void> {
    const body: V1ConfigMap = {
      metadata: { name: BROKER_STATUS_CONFIGMAP, namespace: this.namespace, labels: { "app.kubernetes.io/managed-by": "mcp-gateway-broker-router" } },
      data: { [BROKER_STATUS_KEY]: text },
    };
    try {
      await this.api.replaceNamespacedConfigMap({ name: BROKER_STATUS_CONFIGMAP, namespace: this.namespace, body });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
      await this.api.createNamespacedConfigMap({ namespace: this.namespace, body });
    }
  }
}
