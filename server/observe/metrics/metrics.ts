// Every metric islet exports, in one prom-client registry. The tenant layer reports to the
// TenantObserver interface (server/tenants/observer.ts); this class turns those reports into
// Prometheus series. The tenant label is bounded (labels.ts) so that a platform with thousands
// of tenants does not hand Prometheus an unbounded number of series. Under the supervisor, each
// worker's Metrics joins the cluster (joinCluster) and a scrape of any worker is the sum over all
// of them, which the primary's ClusterMetrics (cluster.ts) computes.
import cluster from 'node:cluster';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { workerChannel } from '../../cluster/worker-channel';
import { countDropped, type DropReason } from '../log-drops';
import type { Scrape } from '../../cluster/messages';
import type { LimitName } from '../../host/types';
import type { EvictionReason, IsolateSample, RequestReport, TenantObserver } from '../../tenants/observer';
import { TenantLabels, TenantSeries, statusLabel } from './labels';
import { registerProtectionMetrics, type ProtectionMetrics } from './protection-metrics';
import {
  nonNegative,
  registerIsolateGauges,
  registerLogDrops,
  registerStallCounters,
  type StallTotals,
} from './scrape-gauges';
import { SeriesCounter, SeriesHistogram, type CounterSeries, type HistogramSeries } from './series-metrics';

export { OTHER_TENANTS, statusLabel } from './labels';
export type { StallTotals } from './scrape-gauges';
export type { Scrape } from '../../cluster/messages';

/** Anything that answers a scrape: one process's Metrics, or the supervisor's ClusterMetrics. */
export interface MetricsSource {
  scrape(): Promise<Scrape>;
}

export interface MetricsOptions {
  /** how many tenants keep their own `tenant` label (the busiest by recent request count); default 100 */
  tenantLabels?: number;
  /** how often the busiest tenants are re-ranked (ms); default 60 000. 0: only by rebalanceTenants() */
  rebalanceIntervalMs?: number;
  /** Node process metrics and event-loop lag; default true */
  defaultMetrics?: boolean;
  /** called when gathering live isolate samples fails at scrape time (the scrape still succeeds) */
  onCollectError?(error: unknown): void;
}

const EVICTION_REASONS: EvictionReason[] = ['idle', 'memory_pressure', 'count', 'redeploy', 'killed'];
const CODE_CACHE_RESULTS = ['hit', 'miss', 'rejected'] as const;
const REDUNDANT_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** The request metrics of one tenant label value, held so a request records without lookups by label. */
interface RequestSeries {
  /** by status code (0-599; 600 for anything else), filled as codes occur */
  byStatus: (CounterSeries | undefined)[];
  duration: HistogramSeries;
  cpu: HistogramSeries;
}

/** A tenant seen since the last rebalance: its request count and its label's series. */
interface TenantState {
  recent: number;
  /** valid while `generation` is the Metrics' current one (labels move only at a rebalance) */
  series: RequestSeries;
  generation: number;
}

export class Metrics implements TenantObserver {
  readonly registry = new Registry();
  #labels: TenantLabels;
  /** tenants that sent requests since the last rebalance */
  #tenants = new Map<string, TenantState>();
  /** label value -> its request series */
  #requestSeries = new Map<string, RequestSeries>();
  /** bumped by each rebalance: the series a TenantState caches may then belong to another label */
  #generation = 0;
  #isolateSource: (() => IsolateSample[]) | null = null;
  #stallSource: (() => StallTotals | null) | null = null;
  #timeReporter: (() => void) | null = null;
  #clusterScrape: (() => Promise<Scrape>) | null = null;
  #onCollectError: (error: unknown) => void;
  #tenantSeries: TenantSeries<{ remove(labels: Record<string, string>): void }>[] = [];

  #requests: TenantSeries<SeriesCounter>;
  #requestDuration: TenantSeries<SeriesHistogram>;
  #requestCpu: TenantSeries<SeriesHistogram>;
  #isolateCpu: TenantSeries<Counter<'tenant'>>;
  #isolateWall: TenantSeries<Counter<'tenant'>>;
  #coldStarts: TenantSeries<Counter<'tenant'>>;
  #coldStartSeconds: Histogram;
  #evictions: Counter<'reason'>;
  #limits: TenantSeries<Counter<'tenant' | 'limit'>>;
  #codeCache: Counter<'result'>;
  #subrequests: TenantSeries<Counter<'tenant' | 'status'>>;
  #deployments: TenantSeries<Counter<'tenant' | 'result'>>;
  #protection: ProtectionMetrics;
  #spansDropped: Counter<'reason'>;

  constructor(options: MetricsOptions = {}) {
    const limit = options.tenantLabels ?? 100;
    if (!Number.isInteger(limit) || limit < 0) {
      throw new RangeError(`metrics: tenantLabels must be a non-negative integer, got ${limit}`);
    }
    this.#labels = new TenantLabels(limit);
    const interval = options.rebalanceIntervalMs ?? 60_000;
    if (!(interval >= 0))
      throw new RangeError(`metrics: rebalanceIntervalMs must be a non-negative number, got ${interval}`);
    // A timer, not a clock read per request. It holds the Metrics weakly: a Metrics dropped
    // without a close (tests, a restarted server) is collected and its timer stops.
    if (interval > 0) {
      const self = new WeakRef(this);
      const timer: NodeJS.Timeout = setInterval(() => {
        const metrics = self.deref();
        if (metrics) metrics.rebalanceTenants();
        else clearInterval(timer);
      }, interval).unref();
    }
    this.#onCollectError = options.onCollectError ?? (() => {});
    const registers = [this.registry];
    const tenantSeries = <M extends Counter<string> | Histogram<string> | SeriesCounter | SeriesHistogram>(
      metric: M,
      extraLabel?: string,
    ): TenantSeries<M> => {
      const series = new TenantSeries(metric, extraLabel);
      this.#tenantSeries.push(series);
      return series;
    };

    // the three metrics of every request: series handles instead of label lookups (metrics/series-metrics.ts)
    this.#requests = tenantSeries(
      new SeriesCounter({
        name: 'islet_requests_total',
        help: 'Requests served by tenant functions, by response status',
        labelNames: ['tenant', 'status'],
        registers,
      }),
      'status',
    );
    this.#requestDuration = tenantSeries(
      new SeriesHistogram({
        name: 'islet_request_duration_seconds',
        help: 'Time from receiving a request to the end of its response',
        labelNames: ['tenant'],
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers,
      }),
    );
    this.#requestCpu = tenantSeries(
      new SeriesHistogram({
        name: 'islet_request_cpu_seconds',
        help: 'CPU time one request spent inside its isolate',
        labelNames: ['tenant'],
        buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
        registers,
      }),
    );
    this.#isolateCpu = tenantSeries(
      new Counter({
        name: 'islet_isolate_cpu_seconds_total',
        help: "CPU time used by a tenant's isolates, as accounted by the isolate addon",
        labelNames: ['tenant'],
        registers,
        // registered before the wall counter: one report brings both up to date for this scrape
        collect: () => this.#reportTime(),
      }),
    );
    this.#isolateWall = tenantSeries(
      new Counter({
        name: 'islet_isolate_wall_seconds_total',
        help: "Wall time a tenant's isolates spent running JavaScript, as accounted by the isolate addon",
        labelNames: ['tenant'],
        registers,
      }),
    );
    this.#coldStarts = tenantSeries(
      new Counter({
        name: 'islet_cold_starts_total',
        help: 'Isolates started for a request because no warm one existed',
        labelNames: ['tenant'],
        registers,
      }),
    );
    this.#coldStartSeconds = new Histogram({
      name: 'islet_cold_start_seconds',
      help: 'Time to create an isolate, bootstrap it and load a deployment',
      buckets: [0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    });
    this.#evictions = new Counter({
      name: 'islet_isolate_evictions_total',
      help: 'Isolates disposed, by reason',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of EVICTION_REASONS) this.#evictions.inc({ reason }, 0);
    this.#limits = tenantSeries(
      new Counter({
        name: 'islet_limit_exceeded_total',
        help: 'Requests cut because they crossed a limit',
        labelNames: ['tenant', 'limit'],
        registers,
      }),
      'limit',
    );
    this.#codeCache = new Counter({
      name: 'islet_code_cache_total',
      help: 'V8 code cache lookups when compiling deployment modules and the shim bootstrap',
      labelNames: ['result'],
      registers,
    });
    for (const result of CODE_CACHE_RESULTS) this.#codeCache.inc({ result }, 0);
    this.#subrequests = tenantSeries(
      new Counter({
        name: 'islet_subrequests_total',
        help: 'fetch() calls made by tenant functions, by response status ("error": no response)',
        labelNames: ['tenant', 'status'],
        registers,
      }),
      'status',
    );
    this.#deployments = tenantSeries(
      new Counter({
        name: 'islet_deployments_total',
        help: 'Deployment uploads, by result',
        labelNames: ['tenant', 'result'],
        registers,
      }),
      'result',
    );
    this.#spansDropped = new Counter({
      name: 'islet_trace_spans_dropped_total',
      help: 'Trace spans never exported, by reason (queue_full: the export queue was full; export_failed: the collector refused or did not answer)',
      labelNames: ['reason'],
      registers,
    });
    registerIsolateGauges(this.registry, this.#labels, () => {
      try {
        return this.#isolateSource ? this.#isolateSource() : [];
      } catch (error) {
        this.#onCollectError(error);
        return [];
      }
    });
    this.#protection = registerProtectionMetrics(registers, tenantSeries);
    registerLogDrops(this.registry);
    if (options.defaultMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry });
      // prom-client exports these three totals as gauges whose names end in `_total`, which
      // Prometheus reserves for counters (`promtool check metrics` rejects them). The same
      // numbers remain available per type in nodejs_active_{handles,requests,resources}.
      for (const name of REDUNDANT_DEFAULT_METRICS) this.registry.removeSingleMetric(name);
    }
  }

  /**
   * A counter of this registry with a bounded `tenant` label and one more label, for the metrics
   * of other rooms (server/bindings: KV operations, cache lookups, cron runs). Returns its increment.
   */
  tenantCounter(name: string, help: string, extraLabel: string): (tenant: string, extra: string) => void {
    const series = new TenantSeries(
      new Counter({ name, help, labelNames: ['tenant', extraLabel], registers: [this.registry] }),
      extraLabel,
    );
    this.#tenantSeries.push(series);
    return (tenant, extra) => series.metric.inc(series.labels(this.#labels.label(tenant), extra));
  }

  /** The label value a tenant's series carry right now: its name, or OTHER_TENANTS (asking takes no slot). */
  tenantLabel(tenant: string): string {
    return this.#labels.peek(tenant);
  }

  /**
   * Re-ranks tenants by recent request count. A tenant that falls out of the top N has its series
   * removed (its later traffic counts under OTHER_TENANTS); one that enters starts new series at
   * zero. Counts already recorded never move between series, so every series stays monotonic.
   */
  rebalanceTenants(): void {
    for (const [name, state] of this.#tenants) {
      if (state.recent > 0) this.#labels.count(name, state.recent);
    }
    // the next request of each tenant starts a new state (and looks its label up again)
    this.#tenants.clear();
    this.#generation++;
    for (const tenant of this.#labels.rebalance()) {
      for (const series of this.#tenantSeries) series.drop(tenant);
      this.#requestSeries.delete(tenant);
    }
  }

  /** The request path: a map lookup by tenant, then increments on series held by the tenant's state. */
  requestFinished(report: RequestReport): void {
    let state = this.#tenants.get(report.tenant);
    if (state === undefined || state.generation !== this.#generation) {
      state = { recent: 0, series: this.#seriesOf(this.#labels.label(report.tenant)), generation: this.#generation };
      this.#tenants.set(report.tenant, state);
    }
    state.recent++;
    const series = state.series;
    const status = report.status;
    const code = Number.isInteger(status) && status >= 0 && status < 600 ? status : 600;
    const requests = series.byStatus[code] ?? this.#statusSeries(series, code);
    requests.value++;
    this.#requestDuration.metric.observe(series.duration, nonNegative(report.durationS));
    this.#requestCpu.metric.observe(series.cpu, nonNegative(report.cpuS));
  }

  #seriesOf(label: string): RequestSeries {
    let series = this.#requestSeries.get(label);
    if (!series) {
      series = {
        byStatus: [],
        duration: this.#requestDuration.metric.of(this.#requestDuration.labels(label)),
        cpu: this.#requestCpu.metric.of(this.#requestCpu.labels(label)),
      };
      this.#requestSeries.set(label, series);
    }
    return series;
  }

  #statusSeries(series: RequestSeries, code: number): CounterSeries {
    const label = series.duration.labels.tenant;
    return (series.byStatus[code] = this.#requests.metric.of(this.#requests.labels(label, statusLabel(code))));
  }

  isolateTime(tenant: string, cpuS: number, wallS: number): void {
    const label = this.#labels.label(tenant);
    if (cpuS > 0) this.#isolateCpu.metric.inc(this.#isolateCpu.labels(label), cpuS);
    if (wallS > 0) this.#isolateWall.metric.inc(this.#isolateWall.labels(label), wallS);
  }

  coldStart(tenant: string, seconds: number): void {
    this.#coldStarts.metric.inc(this.#coldStarts.labels(this.#labels.label(tenant)));
    this.#coldStartSeconds.observe(nonNegative(seconds));
  }

  startupCpu(tenant: string, cpuS: number): void {
    const series = this.#protection.startupCpu;
    if (cpuS > 0) series.metric.inc(series.labels(this.#labels.label(tenant)), cpuS);
  }

  backoff(tenant: string): void {
    this.#protection.backoffs.metric.inc(this.#protection.backoffs.labels(this.#labels.label(tenant)));
  }

  connectionRefused(): void {
    this.#protection.connectionsRefused.inc();
  }

  eviction(reason: EvictionReason): void {
    this.#evictions.inc({ reason });
  }

  limitExceeded(tenant: string, limit: LimitName): void {
    this.#limits.metric.inc(this.#limits.labels(this.#labels.label(tenant), limit));
  }

  codeCache(result: 'hit' | 'miss' | 'rejected'): void {
    this.#codeCache.inc({ result });
  }

  subrequest(tenant: string, status: number): void {
    this.#subrequests.metric.inc(this.#subrequests.labels(this.#labels.label(tenant), statusLabel(status)));
  }

  deployment(tenant: string, result: 'success' | 'failure'): void {
    this.#deployments.metric.inc(this.#deployments.labels(this.#labels.label(tenant), result));
  }

  /** trace spans lost on the way to the collector (observe/tracing/) */
  spansDropped(reason: 'queue_full' | 'export_failed', count: number): void {
    if (count > 0) this.#spansDropped.inc({ reason }, count);
  }

  /**
   * lines a reader lost because it did not keep up (a follow stream's backlog was full): counted
   * with every other drop of this process (observe/log-drops.ts), exported as
   * islet_log_lines_dropped_total{reason}
   */
  logLinesDropped(reason: DropReason, count: number): void {
    countDropped(reason, count);
  }

  setIsolateSource(source: () => IsolateSample[]): void {
    this.#isolateSource = source;
  }

  setTimeReporter(report: () => void): void {
    this.#timeReporter = report;
  }

  #reportTime(): void {
    try {
      this.#timeReporter?.();
    } catch (error) {
      this.#onCollectError(error);
    }
  }

  /**
   * Where the machine-stall counters come from (native/'s ledger, read at scrape time): stops of
   * the whole machine (a virtual machine paused by its host) and the CPU time given back to
   * tenants whose requests were running through one, which would otherwise be cut for CPU they
   * never used.
   */
  setStallSource(source: () => StallTotals | null): void {
    if (this.#stallSource === null) {
      registerStallCounters(this.registry, () => {
        try {
          return this.#stallSource?.() ?? null;
        } catch (error) {
          this.#onCollectError(error);
          return null;
        }
      });
    }
    this.#stallSource = source;
  }

  /**
   * Prometheus text exposition: this process's registry, or, after joinCluster(), the sum over
   * every worker as the supervisor aggregates it.
   */
  async scrape(): Promise<Scrape> {
    if (this.#clusterScrape) return this.#clusterScrape();
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /**
   * In a worker process under the supervisor: answer the primary's collection requests with this
   * registry, and make scrape() ask the primary for the sum over all workers. Without this, a
   * scrape of the shared admin port would land on one worker and report only its share.
   * Returns a function that leaves the cluster again.
   */
  joinCluster(options: { timeoutMs?: number } = {}): () => void {
    if (!cluster.isWorker || !process.send) {
      throw new Error('metrics: joinCluster() must be called in a node:cluster worker process');
    }
    const channel = workerChannel();
    const stopAnswering = channel.handle('metrics.collect', () => this.registry.getMetricsAsJSON());
    const scrape = (): Promise<Scrape> => channel.ask('metrics.scrape', undefined, { timeoutMs: options.timeoutMs });
    this.#clusterScrape = scrape;
    return () => {
      stopAnswering();
      if (this.#clusterScrape === scrape) this.#clusterScrape = null;
    };
  }
}
