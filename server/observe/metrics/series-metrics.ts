// A counter and a histogram for the request path, where prom-client's cost showed: each of its
// inc()/observe() calls validates and hashes the label object, about 0.3 us per call and three
// calls per request. Here the caller asks once for a series handle (a label set) and then
// records into the handle: a field increment, a bucket search over a dozen bounds.
//
// Both register with a prom-client Registry as metrics of their own (the registry only calls
// get()), and get() answers exactly as prom-client's Counter and Histogram do: same names, help,
// type, label order (`le` first on buckets), cumulative buckets then `+Inf`, `_sum`, `_count`,
// series in the order they were first recorded, aggregator 'sum'. The text exposition and the
// cluster aggregation (AggregatorRegistry over getMetricsAsJSON) are therefore unchanged.
import type { Registry } from 'prom-client';

type Labels = Record<string, string>;

export interface CounterSeries {
  readonly labels: Labels;
  value: number;
}

export interface HistogramSeries {
  readonly labels: Labels;
  /** per bucket, not cumulative: counts[i] holds values in (bounds[i-1], bounds[i]] */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

interface SeriesMetricConfig {
  name: string;
  help: string;
  labelNames: readonly string[];
  registers: Registry[];
}

/** what prom-client's registry needs of a metric, for metrics it did not make */
abstract class SeriesMetric<S extends { labels: Labels }> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly aggregator = 'sum';
  abstract readonly type: 'counter' | 'histogram';
  /** label values joined -> series, in first-use order (Map order), as prom-client lists them */
  protected series = new Map<string, S>();

  constructor(config: SeriesMetricConfig) {
    this.name = config.name;
    this.help = config.help;
    this.labelNames = config.labelNames;
    for (const registry of config.registers)
      registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** the series of a label set; created (and exported from then on) the first time it is asked for */
  of(labels: Labels): S {
    const key = this.#key(labels);
    let series = this.series.get(key);
    if (!series) {
      for (const name of this.labelNames) {
        if (typeof labels[name] !== 'string')
          throw new TypeError(`metrics: ${this.name} needs the label '${name}', got ${JSON.stringify(labels)}`);
      }
      this.series.set(key, (series = this.create({ ...labels })));
    }
    return series;
  }

  /** drops a label set's series; a handle still held records into nothing exported */
  remove(labels: Labels): void {
    this.series.delete(this.#key(labels));
  }

  reset(): void {
    this.series.clear();
  }

  protected abstract create(labels: Labels): S;

  #key(labels: Labels): string {
    // NUL cannot occur in an exported label value of ours (tenant names, status and limit words)
    return this.labelNames.length === 1
      ? String(labels[this.labelNames[0]])
      : this.labelNames.map((n) => labels[n]).join('\0');
  }
}

export class SeriesCounter extends SeriesMetric<CounterSeries> {
  readonly type = 'counter';

  protected create(labels: Labels): CounterSeries {
    return { labels, value: 0 };
  }

  async get() {
    return {
      help: this.help,
      name: this.name,
      type: this.type,
      values: [...this.series.values()].map((s) => ({ value: s.value, labels: { ...s.labels } })),
      aggregator: this.aggregator,
    };
  }
}

export class SeriesHistogram extends SeriesMetric<HistogramSeries> {
  readonly type = 'histogram';
  readonly upperBounds: readonly number[];

  constructor(config: SeriesMetricConfig & { buckets: readonly number[] }) {
    super(config);
    const bounds = config.buckets;
    if (bounds.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= bounds[i - 1]))) {
      throw new RangeError(
        `metrics: ${config.name} buckets must be finite and ascending, got ${JSON.stringify(bounds)}`,
      );
    }
    this.upperBounds = Object.freeze([...bounds]);
  }

  protected create(labels: Labels): HistogramSeries {
    return { labels, counts: new Float64Array(this.upperBounds.length), sum: 0, count: 0 };
  }

  /** records one value (finite; the caller has clamped it) */
  observe(series: HistogramSeries, value: number): void {
    const bounds = this.upperBounds;
    // the first bound at or above the value, as prom-client's findBound; past the last only +Inf counts it
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]) {
        series.counts[i]++;
        break;
      }
    }
    series.sum += value;
    series.count++;
  }

  async get() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.upperBounds.length; i++) {
        cumulative += s.counts[i];
        values.push({ labels: { le: this.upperBounds[i], ...s.labels }, value: cumulative, metricName: bucket });
      }
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: bucket });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}
