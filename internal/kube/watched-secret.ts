// One Secret, by name, followed through the API: a list+watch restricted to it (so RBAC can name
// the Secret), surviving watch ends and API server restarts as every Informer does.
import type { KubeConfig, V1Secret } from "@kubernetes/client-node";
import type { Logger } from "../log/logger.js";
import { Informer } from "./informer.js";

export class WatchedSecret {
  /** NAMESPACE/NAME, for log lines. */
  readonly where: string;
  private readonly informer: Informer<V1Secret & { metadata: NonNullable<V1Secret["metadata"]> }>;

  constructor(
    kc: KubeConfig,
    private readonly namespace: string,
    private readonly name: string,
    log: Logger,
  ) {
    this.where = `${namespace}/${name}`;
    this.informer = new Informer(kc, { group: "", version: "v1", plural: "secrets" }, log, { namespace, fieldSelector: `metadata.name=${name}` });
  }

  /** Calls onChange with the Secret (undefined while there is none) once the first list is in, then on every change. */
  async start(onChange: (secret: V1Secret | undefined) => void): Promise<void> {
    const emit = () => onChange(this.informer.get(this.namespace, this.name));
    this.informer.onChange(emit);
    await this.informer.start();
    emit();
  }

  stop(): void {
    this.informer.stop();
  }
}
