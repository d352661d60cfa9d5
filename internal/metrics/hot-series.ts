// The request path's counter and histograms, kept by hand and exposed through the same prom-client
// registry. prom-client re-validates and hashes the label object on every inc()/observe(), even on
// a labels() child: 10 µs of gateway CPU per tools/call in the load phase's profiles (issue 9),
// about a tenth of all it costs. Here a caller looks its series up once (a Map per label, no string
// building) and counting is an array increment; the text format stays prom-client's.
import type { Metric, Registry } from "prom-client";

/** One sample as prom-client's registry formats it: `labels` first, then `sharedLabels` (the series' own). */
interface Exported {
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  value: number;
  metricName?: string;
}

interface SeriesConfig<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  registers: Registry[];
}

/** Series by label values, one Map level per label. */
class SeriesTable<S> {
  private readonly root = new Map<string, unknown>();
  readonly all: { labels: Record<string, string>; series: S }[] = [];

  constructor(
    private readonly labelNames: readonly string[],
    private readonly make: () => S,
  ) {}

  get(values: readonly string[]): S {
    let level = this.root;
    for (let i = 0; i < values.length - 1; i++) {
      const value = values[i] as string;
      let next = level.get(value) as Map<string, unknown> | undefined;
      if (!next) {
        next = new Map();
        level.set(value, next);
      }
      level = next;
    }
    const last = values[values.length - 1] as string;
    let series = level.get(last) as S | undefined;
    if (!series) {
      series = this.make();
      level.set(last, series);
      this.all.push({ labels: Object.fromEntries(this.labelNames.map((name, i) => [name, values[i] as string])), series });
    }
    return series;
  }
}

/** What both kinds share: name and help, the series table, and a place in each registry. */
abstract class HotMetric<S> {
  readonly aggregator = "sum";
  readonly name: string;
  readonly help: string;
  abstract readonly type: "counter" | "histogram";
  protected readonly table: SeriesTable<S>;

  constructor(config: SeriesConfig<string>, make: () => S) {
    this.name = config.name;
    this.help = config.help;
    this.table = new SeriesTable(config.labelNames, make);
    // prom-client's registry takes any object with its Metric's name and get(); ours are not its classes.
    for (const registry of config.registers) registry.registerMetric(this as unknown as Metric);
  }

  /** The series of these label values (in labelNames order): keep it, and count on it. */
  series(...values: string[]): S {
    return this.table.get(values);
  }
}

export interface CounterSeries {
  value: number;
}

export class HotCounter<L extends string> extends HotMetric<CounterSeries> {
  readonly type = "counter";

  constructor(config: SeriesConfig<L>) {
    super(config, () => ({ value: 0 }));
  }

  get() {
    const values: Exported[] = this.table.all.map(({ labels, series }) => ({ labels, value: series.value }));
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }
}

export class HistogramSeries {
  /** Per bucket, observations at most its bound (not cumulative); the last slot is above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > (this.bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count++;
  }
}

export class HotHistogram<L extends string> extends HotMetric<HistogramSeries> {
  readonly type = "histogram";
  private readonly buckets: readonly number[];

  constructor(config: SeriesConfig<L> & { buckets: readonly number[] }) {
    const buckets = [...config.buckets].sort((a, b) => a - b);
    super(config, () => new HistogramSeries(buckets));
    this.buckets = buckets;
  }

  /** What the text exposition prints: prom-client's own histogram layout, `le` before the series' labels. */
  getForPromString() {
    const values: Exported[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const { labels, series } of this.table.all) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += series.counts[i] as number;
        values.push({ labels: { le }, sharedLabels: labels, value: cumulative, metricName: bucketName });
      });
      values.push({ labels: { le: "+Inf" }, sharedLabels: labels, value: series.count, metricName: bucketName });
      values.push({ labels: {}, sharedLabels: labels, value: series.sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels: labels, value: series.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }

  /** The registry's JSON: each sample's labels in one object. */
  async get() {
    const metric = await this.getForPromString();
    return { ...metric, values: metric.values.map(({ labels, sharedLabels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } })) };
  }
}
