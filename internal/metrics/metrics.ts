// Prometheus metrics of the broker. Gauges are read at scrape time from the live state, so the
// request path only pays for one counter and two histogram observations, on series of our own
// (hot-series.ts). Node's own process metrics (CPU, memory, heap, event-loop lag, GC) are on the
// same registry.
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import type { ServerStatus } from "../catalog/catalog.js";
import { REFUSAL_REASONS, type RefusalObserver, type RefusalReason } from "../transport/refusals.js";
import { HotCounter, HotHistogram } from "./hot-series.js";

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface MetricsSources {
  sessionCount(): number;
  servers(): ServerStatus[];
}

export type RequestOutcome = "ok" | "error" | "cancelled";

export class GatewayMetrics implements RefusalObserver {
  readonly registry = new Registry();
  // Series are bounded: methods are MCP's set (others count as "other") and servers the registry's.
  private readonly requests: HotCounter<"method" | "outcome">;
  private readonly requestsRefused: Counter<"reason">;
  private readonly requestDuration: HotHistogram<"method">;
  private readonly upstreamDuration: HotHistogram<"server" | "method">;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new HotCounter({ name: "mcp_gateway_requests_total", help: "MCP requests from clients, by method and outcome (ok, error, or cancelled by the client).", labelNames: ["method", "outcome"], registers });
    this.requestDuration = new HotHistogram({ name: "mcp_gateway_request_duration_seconds", help: "Time to answer a client MCP request, by method.", labelNames: ["method"], buckets: LATENCY_BUCKETS, registers });
    this.upstreamDuration = new HotHistogram({ name: "mcp_gateway_upstream_request_duration_seconds", help: "Time an upstream server took to answer a forwarded request.", labelNames: ["server", "method"], buckets: LATENCY_BUCKETS, registers });
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
    this.requests.series(method, outcome).value++;
    if (seconds !== undefined) this.requestDuration.series(method).observe(seconds);
  }

  upstreamRequest(server: string, method: string, seconds: number): void {
    this.upstreamDuration.series(server, method).observe(seconds);
  }
}
