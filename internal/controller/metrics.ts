// Prometheus metrics of the controller: reconciles, their errors and durations, queue depth, writes.
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly reconciles: Counter<"kind" | "result">;
  readonly reconcileDuration: Histogram<"kind">;
  readonly writes: Counter<"kind" | "what">;
  /** Set by the manager that owns the queue. */
  queueDepth: () => number = () => 0;

  constructor() {
    const depth = () => this.queueDepth();
    const registers = [this.registry];
    this.reconciles = new Counter({ name: "mcp_controller_reconciles_total", help: "Reconciles by kind and result (success or error).", labelNames: ["kind", "result"], registers });
    this.reconcileDuration = new Histogram({ name: "mcp_controller_reconcile_duration_seconds", help: "Time one reconcile took.", labelNames: ["kind"], registers, buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5] });
    this.writes = new Counter({ name: "mcp_controller_writes_total", help: "Writes to the API server by resource and what was written.", labelNames: ["kind", "what"], registers });
    new Gauge({
      name: "mcp_controller_queue_depth",
      help: "Keys waiting to be reconciled.",
      registers,
      collect() {
        this.set(depth());
      },
    });
  }
}
