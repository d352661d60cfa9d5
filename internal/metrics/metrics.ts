// Prometheus metrics of the broker. Gauges are read at scrape time from the live state, so the
// request path only pays for one counter and one histogram observation. Node's own process
// metrics (CPU, memory, heap, event-loop lag, GC) are on the same registry.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { ServerStatus } from "../catalog/catalog.js";
import { REFUSAL_REASONS, type RefusalObserver, type RefusalReason } from "../transport/refusals.js";

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface MetricsSources {
  sessionCount(): number;
  servers(): ServerStatus[];
}

export type RequestOutcome = "ok" | "error" | "cancelled";

/** A label set's child, looked up once: hashing the label object on every request showed in profiles. */
function childOf<T>(cache: Map<string, T>, key: string, make: () => T): T {
  let child = cache.get(key);
  if (!child) {
    child = make();
    cache.set(key, child);
  }
  return child;
}

export class GatewayMetrics implements RefusalObserver {
  readonly registry = new Registry();
  private readonly requests: Counter<"method" | "outcome">;
  private readonly requestsRefused: Counter<"reason">;
  private readonly requestDuration: Histogram<"method">;
  private readonly upstreamDuration: Histogram<"server" | "method">;
  // Bounded: methods are MCP's set (others count as "other") and servers the registry's.
  private readonly requestChildren = new Map<string, Counter.Internal>();
  private readonly durationChildren = new Map<string, Histogram.Internal<"method">>();
  private readonly upstreamChildren = new Map<string, Histogram.Internal<"server" | "method">>();

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({ name: "mcp_gateway_requests_total", help: "MCP requests from clients, by method and outcome (ok, error, or cancelled by the client).", labelNames: ["method", "outcome"], registers });
    this.requestDuration = new Histogram({ name: "mcp_gateway_request_duration_seconds", help: "Time to answer a client MCP request, by method.", labelNames: ["method"], buckets: LATENCY_BUCKETS, registers });
    this.upstreamDuration = new Histogram({ name: "mcp_gateway_upstream_request_duration_seconds", help: "Time an upstream server took to answer a forwarded request.", labelNames: ["server", "method"], buckets: LATENCY_BUCKETS, registers });
    this.requestsRefused = new Counter({ name: "mcp_gateway_requests_refused_total", help: "HTTP requests to /mcp the transport answered with an HTTP error of its own, by reason.", labelNames: ["reason"], registers });
    // Every reason from the start, at 0, so that rate() and increase() see the first refusal.
    for (const reason of REFUSAL_REASONS) this.requestsRefused.inc({ reason }, 0);
    new Gauge({
      name: "mcp_gateway_sessions",
      help: "Open client sessions.",
      registers,
      collect() {
        this.set(sources.sessionCount());
      },
    });
    new Gauge({
      name: "mcp_gateway_upstream_up",
      help: "1 when the upstream server is connected and served, else 0.",
      labelNames: ["server"],
      registers,
      collect() {
        this.reset();
        for (const server of sources.servers()) this.set({ server: server.name }, server.ready ? 1 : 0);
      },
    });
    new Gauge({
      name: "mcp_gateway_discovered_tools",
      help: "Tools the upstream server lists.",
      labelNames: ["server"],
      registers,
      collect() {
        this.reset();
        for (const server of sources.servers()) this.set({ server: server.name }, server.totalTools);
      },
    });
  }

  refused(reason: RefusalReason): void {
    this.requestsRefused.inc({ reason });
  }

  /** `method`: an MCP method name or "other". */
  request(method: string, outcome: RequestOutcome, seconds?: number): void {
    childOf(this.requestChildren, `${method} ${outcome}`, () => this.requests.labels(method, outcome)).inc();
    if (seconds !== undefined) childOf(this.durationChildren, method, () => this.requestDuration.labels(method)).observe(seconds);
  }

  upstreamRequest(server: string, method: string, seconds: number): void {
    childOf(this.upstreamChildren, `${server}\n${method}`, () => this.upstreamDuration.labels(server, method)).observe(seconds);
  }
}
