// The request path's series (internal/metrics/hot-series.ts) must read exactly as prom-client's own
// Counter and Histogram would: the same observations into both, one registry each, the same text
// and the same JSON.
import { expect } from "chai";
import { Counter, Histogram, Registry } from "prom-client";
import { HotCounter, HotHistogram } from "../../internal/metrics/hot-series.js";

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
// Bounds themselves, between them, below the first and above the last; label values that need escaping.
const OBSERVATIONS: [string, string, number][] = [
  ["ns/a", "tools/call", 0.0005],
  ["ns/a", "tools/call", 0.0007],
  ["ns/a", "tools/list", 0],
  ["ns/b", "tools/call", 31],
  ['ns/"quoted"\\back\nslash', "tools/call", 2.5],
  ["ns/a", "tools/call", 10],
  ["ns/b", "resources/read", 0.3],
];

/** prom-client puts `exemplar: null` on every bucket of a histogram without exemplars; ours have none to state. */
function withoutNullExemplars(json: unknown): unknown {
  return JSON.parse(JSON.stringify(json, (key, value: unknown) => (key === "exemplar" && value === null ? undefined : value)));
}

function pair() {
  const ours = new Registry();
  const theirs = new Registry();
  const config = { name: "t_duration_seconds", help: "Help with \\ and\nnewline.", labelNames: ["server", "method"] as const, buckets: BUCKETS };
  return {
    ours,
    theirs,
    hot: new HotHistogram({ ...config, registers: [ours] }),
    reference: new Histogram({ ...config, labelNames: [...config.labelNames], registers: [theirs] }),
    hotCounter: new HotCounter({ name: "t_total", help: "Counted.", labelNames: ["method", "outcome"] as const, registers: [ours] }),
    referenceCounter: new Counter({ name: "t_total", help: "Counted.", labelNames: ["method", "outcome"], registers: [theirs] }),
  };
}

describe("metrics: the request path's own series read as prom-client's", () => {
  it("a histogram's text and JSON equal prom-client's for the same observations", async () => {
    const { ours, theirs, hot, reference } = pair();
    for (const [server, method, value] of OBSERVATIONS) {
      hot.series(server, method).observe(value);
      reference.labels(server, method).observe(value);
    }
    expect(await ours.metrics()).to.equal(await theirs.metrics());
    expect(await ours.getMetricsAsJSON()).to.deep.equal(withoutNullExemplars(await theirs.getMetricsAsJSON()));
  });

  it("a counter's text equals prom-client's, series in the order first counted", async () => {
    const { ours, theirs, hotCounter, referenceCounter } = pair();
    for (const [method, outcome] of [["tools/call", "ok"], ["tools/call", "error"], ["tools/call", "ok"], ["other", "cancelled"]] as const) {
      hotCounter.series(method, outcome).value++;
      referenceCounter.labels(method, outcome).inc();
    }
    const text = await ours.metrics();
    expect(text).to.contain('t_total{method="tools/call",outcome="ok"} 2');
    expect(text).to.equal(await theirs.metrics());
  });

  it("one series per label set, however often it is looked up", () => {
    const { hot } = pair();
    expect(hot.series("ns/a", "tools/call")).to.equal(hot.series("ns/a", "tools/call"));
    expect(hot.series("ns/a", "tools/call")).to.not.equal(hot.series("ns/a", "tools/list"));
    expect(hot.series("ns/a", "x")).to.not.equal(hot.series("ns/b", "x"));
  });
});
