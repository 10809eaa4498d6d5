// Every metric islet exports, in one prom-client registry. The tenant layer reports to the
// TenantObserver interface (server/tenants/observer.ts); this class turns those reports into
// Prometheus series. The tenant label is bounded (see TenantLabels) so that a platform with
// thousands of tenants does not hand Prometheus an unbounded number of series.
import cluster, { type Worker } from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { adminErrorResponse, logRoutes, operatorOnly, type LogHub } from './logs';
import { SeriesCounter, SeriesHistogram, type CounterSeries, type HistogramSeries } from './metrics/series-metrics';
import type { LimitName } from './host/types';
import type {
  EvictionReason,
  IsolateSample,
  IsolateState,
  RequestReport,
  TenantObserver,
} from './tenants/observer';

/**
 * The label value shared by every tenant outside the top N. It starts with '_', which no tenant
 * name can (tenant names are DNS labels), so it never collides with a real tenant.
 */
export const OTHER_TENANTS = '_other';

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

/** native/'s machine-stall ledger, as metrics reads it */
export interface StallTotals {
  count: number;
  totalNs: number;
  creditedNs: number;
}

const EVICTION_REASONS: EvictionReason[] = ['idle', 'memory_pressure', 'count', 'redeploy', 'killed'];
const ISOLATE_STATES: IsolateState[] = ['warm', 'starting', 'draining'];
const CODE_CACHE_RESULTS = ['hit', 'miss', 'rejected'] as const;
const REDUNDANT_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** Status codes common enough to keep exactly; any other code is reported by class ("4xx"). */
const EXACT_STATUSES = new Set([
  200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 405, 406, 408, 409,
  410, 413, 415, 422, 429, 500, 501, 502, 503, 504,
]);

/**
 * A tenant function chooses its own status codes; keeping every one as a label value would let
 * one tenant create hundreds of series. Common codes stay exact, the rest collapse to their
 * class, which still matches a `status=~"5.."` selector. 0 (a subrequest that never got a
 * response: refused by the egress guard, DNS or connection failure) becomes "error".
 */
export function statusLabel(status: number): string {
  return (Number.isInteger(status) && STATUS_LABELS[status]) || 'error';
}

function computeStatusLabel(status: number): string {
  if (EXACT_STATUSES.has(status)) return String(status);
  if (status >= 100 && status <= 599) return `${Math.floor(status / 100)}xx`;
  return 'error';
}

/** made once: the label of every possible status, so the request path does not build strings */
const STATUS_LABELS: string[] = Array.from({ length: 600 }, (_, status) => computeStatusLabel(status));

/**
 * A metric with a `tenant` label (and at most one other label) whose series are dropped when the
 * tenant loses its own label, so that at most `tenantLabels + 1` tenant values exist per metric
 * at any time. prom-client removes series only by their full label set, hence the bookkeeping of
 * each tenant's label sets; the label objects are made once and reused, which also keeps the
 * per-request path free of allocations.
 */
class TenantSeries<M extends { remove(labels: Record<string, string>): void }> {
  #byTenant = new Map<string, Map<string, Record<string, string>>>();
  constructor(
    readonly metric: M,
    readonly extraLabel?: string,
  ) {}

  labels(tenant: string, extra = ''): Record<string, string> {
    let sets = this.#byTenant.get(tenant);
    if (!sets) this.#byTenant.set(tenant, (sets = new Map()));
    let labels = sets.get(extra);
    if (!labels) {
      labels = this.extraLabel ? { tenant, [this.extraLabel]: extra } : { tenant };
      sets.set(extra, labels);
    }
    return labels;
  }

  drop(tenant: string): void {
    const sets = this.#byTenant.get(tenant);
    if (!sets) return;
    for (const labels of sets.values()) this.metric.remove(labels);
    this.#byTenant.delete(tenant);
  }
}

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

  constructor(options: MetricsOptions = {}) {
    const limit = options.tenantLabels ?? 100;
    if (!Number.isInteger(limit) || limit < 0) {
      throw new RangeError(`metrics: tenantLabels must be a non-negative integer, got ${limit}`);
    }
    this.#labels = new TenantLabels(limit);
    const interval = options.rebalanceIntervalMs ?? 60_000;
    if (!(interval >= 0)) throw new RangeError(`metrics: rebalanceIntervalMs must be a non-negative number, got ${interval}`);
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
    const tenantSeries = <M extends Counter<string> | Histogram<string> | SeriesCounter | SeriesHistogram>(metric: M, extraLabel?: string): TenantSeries<M> => {
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
    this.#registerIsolateGauges();
    if (options.defaultMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry });
      // prom-client exports these three totals as gauges whose names end in `_total`, which
      // Prometheus reserves for counters (`promtool check metrics` rejects them). The same
      // numbers remain available per type in nodejs_active_{handles,requests,resources}.
      for (const name of REDUNDANT_DEFAULT_METRICS) this.registry.removeSingleMetric(name);
    }
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
    if (this.#stallSource === null) this.#registerStallCounters();
    this.#stallSource = source;
  }

  #registerStallCounters(): void {
    const read = (): StallTotals | null => {
      try {
        return this.#stallSource?.() ?? null;
      } catch (error) {
        this.#onCollectError(error);
        return null;
      }
    };
    // totals kept by the addon: each scrape sets the counter to the ledger's value
    const fromLedger = (name: string, help: string, pick: (t: StallTotals) => number): void => {
      new Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          const totals = read();
          if (!totals) return;
          this.reset();
          this.inc(nonNegative(pick(totals)));
        },
      });
    };
    fromLedger('islet_machine_stalls_total', 'Stops of the whole machine seen by the watchdog (the host did not run this virtual machine)', (t) => t.count);
    fromLedger('islet_machine_stall_seconds_total', 'Time the machine was stopped, summed over stops', (t) => t.totalNs / 1e9);
    fromLedger('islet_cpu_stall_credit_seconds_total', 'CPU time not charged to tenants because their requests were running through a machine stop', (t) => t.creditedNs / 1e9);
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
    const timeoutMs = options.timeoutMs ?? 5000;
    const send = (message: ClusterMessage): void => {
      // a worker whose channel closed is exiting; the primary's timeout accounts for it
      if (process.connected) process.send!(message);
    };
    const pending = new Map<number, { resolve(s: Scrape): void; reject(e: Error): void; timer: NodeJS.Timeout }>();
    let nextId = 0;
    const onMessage = (message: unknown): void => {
      if (!isClusterMessage(message)) return;
      if (message.type === COLLECT) {
        this.registry.getMetricsAsJSON().then(
          (metrics) => send({ type: COLLECTED, id: message.id, metrics }),
          (error: unknown) => send({ type: COLLECTED, id: message.id, error: errorText(error) }),
        );
      } else if (message.type === SCRAPED) {
        const waiter = pending.get(message.id);
        if (!waiter) return;
        pending.delete(message.id);
        clearTimeout(waiter.timer);
        if (message.error !== undefined || message.body === undefined) {
          waiter.reject(new Error(`the supervisor could not aggregate metrics: ${message.error ?? 'empty answer'}`));
        } else {
          waiter.resolve({ contentType: message.contentType ?? this.registry.contentType, body: message.body });
        }
      }
    };
    process.on('message', onMessage);
    this.#clusterScrape = () =>
      new Promise<Scrape>((resolve, reject) => {
        const id = nextId++;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`the supervisor did not answer a metrics scrape within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
        send({ type: SCRAPE, id });
      });
    return () => {
      process.off('message', onMessage);
      this.#clusterScrape = null;
      for (const waiter of pending.values()) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error('metrics: left the cluster while a scrape was pending'));
      }
      pending.clear();
    };
  }

  /**
   * Isolate counts, heap and external bytes are read from the live isolates when Prometheus
   * scrapes, not pushed on every change: the values are current and cost nothing between scrapes.
   * One snapshot feeds the three gauges of a scrape so they agree with each other.
   */
  #registerIsolateGauges(): void {
    let snapshot: IsolateSample[] | null = null;
    const takeSnapshot = (): IsolateSample[] => {
      if (snapshot) return snapshot;
      try {
        snapshot = this.#isolateSource ? this.#isolateSource() : [];
      } catch (error) {
        snapshot = [];
        this.#onCollectError(error);
      }
      // the three gauges are collected in one synchronous pass of the registry; forget the
      // snapshot afterwards so the next scrape reads the isolates again
      queueMicrotask(() => (snapshot = null));
      return snapshot;
    };
    const labels = this.#labels;
    new Gauge({
      name: 'islet_isolates',
      help: 'Live isolates, by state',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const counts = new Map<IsolateState, number>(ISOLATE_STATES.map((s) => [s, 0]));
        for (const sample of takeSnapshot()) counts.set(sample.state, (counts.get(sample.state) ?? 0) + 1);
        for (const [state, count] of counts) this.set({ state }, count);
      },
    });
    const perTenant = (name: string, help: string, pick: (s: IsolateSample) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['tenant'],
        registers: [this.registry],
        collect() {
          const sums = new Map<string, number>();
          for (const sample of takeSnapshot()) {
            const tenant = labels.peek(sample.tenant);
            sums.set(tenant, (sums.get(tenant) ?? 0) + nonNegative(pick(sample)));
          }
          // a tenant whose isolates are gone must vanish from the gauge, not keep its last value
          this.reset();
          for (const [tenant, bytes] of sums) this.set({ tenant }, bytes);
        },
      });
    };
    perTenant('islet_isolate_heap_used_bytes', "V8 heap bytes in use by a tenant's live isolates", (s) => s.heapUsedBytes);
    perTenant(
      'islet_isolate_external_bytes',
      "Bytes held outside the V8 heap (ArrayBuffers) by a tenant's live isolates",
      (s) => s.externalBytes,
    );
  }
}

function nonNegative(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}

/**
 * Which tenants keep their own label. Between rebalances the first tenants seen take the free
 * slots; each rebalance ranks tenants by a decaying request count (the requests since the last
 * rebalance plus half the previous score), so the slots follow the tenants that are busy now
 * while a burst from one tenant is not forgotten at once. Ties favour tenants already labelled,
 * so equal traffic does not make series flap.
 */
class TenantLabels {
  #limit: number;
  #labelled = new Set<string>();
  #recent = new Map<string, number>();
  #score = new Map<string, number>();

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** the label of a tenant, giving it a free slot when one is left */
  label(tenant: string): string {
    if (this.#labelled.has(tenant)) return tenant;
    if (this.#labelled.size < this.#limit) {
      this.#labelled.add(tenant);
      return tenant;
    }
    return OTHER_TENANTS;
  }

  /** the label of a tenant without taking a slot (scrape-time gauges must not change the ranking) */
  peek(tenant: string): string {
    return this.#labelled.has(tenant) ? tenant : OTHER_TENANTS;
  }

  count(tenant: string, requests = 1): void {
    this.#recent.set(tenant, (this.#recent.get(tenant) ?? 0) + requests);
  }

  /** re-ranks; returns the tenants that lost their label */
  rebalance(): string[] {
    const names = new Set([...this.#score.keys(), ...this.#recent.keys()]);
    for (const name of names) {
      const score = (this.#score.get(name) ?? 0) / 2 + (this.#recent.get(name) ?? 0);
      // forget idle tenants so the ranking's memory stays proportional to active tenants
      if (score < 0.01 && !this.#labelled.has(name)) this.#score.delete(name);
      else this.#score.set(name, score);
    }
    this.#recent.clear();
    const ranked = [...this.#score.entries()].sort(
      (a, b) => b[1] - a[1] || Number(this.#labelled.has(b[0])) - Number(this.#labelled.has(a[0])),
    );
    const top = new Set(ranked.slice(0, this.#limit).map(([name]) => name));
    // slots no ranked tenant claims stay with their current holders
    for (const name of this.#labelled) {
      if (top.size >= this.#limit) break;
      top.add(name);
    }
    const demoted = [...this.#labelled].filter((name) => !top.has(name));
    this.#labelled = top;
    return demoted;
  }
}

export interface Scrape {
  contentType: string;
  body: string;
}

/** Anything that answers a scrape: one process's Metrics, or the supervisor's ClusterMetrics. */
export interface MetricsSource {
  scrape(): Promise<Scrape>;
}

export interface ObservabilityRoutesDeps {
  metrics: MetricsSource;
  logs: LogHub;
  /**
   * The admin API's auth middleware (server/deploy/auth.ts). When it names the caller in
   * `c.var.principal`, these routes scope it: `/metrics` (every tenant) needs the operator,
   * `/v1/tenants/:tenant/logs` the operator or a deploy token of that tenant.
   */
  auth: MiddlewareHandler;
  /** answers 404 on the logs route for tenants that do not exist */
  tenantExists?(tenant: string): Promise<boolean>;
}

/** The admin routes of observability: `GET /metrics` and `GET /v1/tenants/:tenant/logs`. */
export function createObservabilityRoutes(deps: ObservabilityRoutesDeps): Hono {
  const app = new Hono();
  app.onError(adminErrorResponse);
  app.get('/metrics', deps.auth, operatorOnly, scrapeHandler(deps.metrics));
  app.route('/', logRoutes(deps.logs, { auth: deps.auth, tenantExists: deps.tenantExists }));
  return app;
}

function scrapeHandler(source: MetricsSource) {
  return async (c: Context): Promise<Response> => {
    try {
      const { contentType, body } = await source.scrape();
      return c.body(body, 200, { 'content-type': contentType, 'cache-control': 'no-store' });
    } catch (error) {
      return c.json(
        { error: { code: 'METRICS_UNAVAILABLE', message: `could not gather metrics: ${errorText(error)}` } },
        503,
      );
    }
  };
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * The optional separate metrics port: `GET /metrics` without authentication, for a Prometheus
 * that should not hold the admin token. It binds 127.0.0.1 unless told otherwise, because the
 * metrics name every tenant.
 */
export function startMetricsServer(
  source: MetricsSource,
  options: { port?: number; host?: string } = {},
): Promise<MetricsServer> {
  const app = new Hono();
  app.get('/metrics', scrapeHandler(source));
  app.notFound((c) => c.json({ error: { code: 'NOT_FOUND', message: `no route ${c.req.method} ${c.req.path}: this port serves only GET /metrics` } }, 404));
  const host = options.host ?? '127.0.0.1';
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: options.port ?? 9091, hostname: host }, (info: AddressInfo) => {
      server.off('error', reject);
      resolve({
        port: info.port,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
    server.once('error', (error) => reject(new Error(`metrics: cannot listen on ${host}:${options.port ?? 9091}: ${errorText(error)}`)));
  });
}

/** One metric of a registry as JSON, the form workers send to the primary. */
type MetricJSON = Awaited<ReturnType<Registry['getMetricsAsJSON']>>[number];

// The supervisor and its workers talk over the cluster IPC channel with these messages.
const COLLECT = 'islet:metrics:collect'; // primary -> worker: send your registry as JSON
const COLLECTED = 'islet:metrics:collected'; // worker -> primary
const SCRAPE = 'islet:metrics:scrape'; // worker -> primary: a client scraped me, give me the sum
const SCRAPED = 'islet:metrics:scraped'; // primary -> worker

interface ClusterMessage {
  type: typeof COLLECT | typeof COLLECTED | typeof SCRAPE | typeof SCRAPED;
  id: number;
  metrics?: MetricJSON[];
  contentType?: string;
  body?: string;
  error?: string;
}

function isClusterMessage(message: unknown): message is ClusterMessage {
  if (typeof message !== 'object' || message === null) return false;
  const { type, id } = message as { type?: unknown; id?: unknown };
  return typeof id === 'number' && (type === COLLECT || type === COLLECTED || type === SCRAPE || type === SCRAPED);
}

/**
 * The supervisor's (cluster primary's) view of metrics: the sum over all live workers, merged
 * with prom-client's AggregatorRegistry (counters and histograms add up; its default metrics say
 * how they merge). A worker that does not answer within the timeout (busy past its CPU budget,
 * or dying) is left out rather than failing the scrape; `islet_cluster_workers{state}` says how
 * many workers answered, so a partial sum is visible.
 */
export class ClusterMetrics implements MetricsSource {
  #timeoutMs: number;
  #nextId = 0;
  #collections = new Map<number, { waiting: Set<number>; responses: MetricJSON[][]; finish(): void }>();
  #onMessage = (worker: Worker, message: unknown): void => {
    if (!isClusterMessage(message)) return;
    if (message.type === COLLECTED) {
      const collection = this.#collections.get(message.id);
      if (!collection || !collection.waiting.delete(worker.id)) return;
      if (message.metrics) collection.responses.push(message.metrics);
      if (collection.waiting.size === 0) collection.finish();
    } else if (message.type === SCRAPE) {
      this.scrape().then(
        ({ contentType, body }) => worker.isConnected() && worker.send({ type: SCRAPED, id: message.id, contentType, body }),
        (error: unknown) => worker.isConnected() && worker.send({ type: SCRAPED, id: message.id, error: errorText(error) }),
      );
    }
  };
  #onExit = (worker: Worker): void => {
    for (const collection of this.#collections.values()) {
      if (collection.waiting.delete(worker.id) && collection.waiting.size === 0) collection.finish();
    }
  };

  constructor(options: { timeoutMs?: number } = {}) {
    if (!cluster.isPrimary) throw new Error('metrics: ClusterMetrics belongs in the cluster primary (the supervisor)');
    this.#timeoutMs = options.timeoutMs ?? 3000;
    cluster.on('message', this.#onMessage);
    cluster.on('exit', this.#onExit);
  }

  async scrape(): Promise<Scrape> {
    const workers = Object.values(cluster.workers ?? {}).filter(
      (w): w is Worker => w !== undefined && w.isConnected(),
    );
    const id = this.#nextId++;
    const responses = await new Promise<MetricJSON[][]>((resolve) => {
      const collection = {
        waiting: new Set(workers.map((w) => w.id)),
        responses: [] as MetricJSON[][],
        finish: () => {
          clearTimeout(timer);
          this.#collections.delete(id);
          resolve(collection.responses);
        },
      };
      const timer = setTimeout(collection.finish, this.#timeoutMs);
      this.#collections.set(id, collection);
      if (workers.length === 0) return collection.finish();
      for (const worker of workers) worker.send({ type: COLLECT, id } satisfies ClusterMessage);
    });
    const registry = AggregatorRegistry.aggregate(responses);
    const gauge = new Gauge({
      name: 'islet_cluster_workers',
      help: 'Worker processes whose metrics are in this scrape (answered) or missing from it',
      labelNames: ['state'],
      registers: [registry],
    });
    gauge.set({ state: 'answered' }, responses.length);
    gauge.set({ state: 'missing' }, workers.length - responses.length);
    return { contentType: registry.contentType, body: await registry.metrics() };
  }

  close(): void {
    cluster.off('message', this.#onMessage);
    cluster.off('exit', this.#onExit);
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
