// islet's own history of its metrics, for the dashboard's charts with a time range when no
// Prometheus server is configured: per-minute aggregates per tenant (requests by status class,
// latency buckets, CPU time, cold starts, limit cuts, memory), kept for a bounded number of
// minutes. A recorder samples the cumulative counters every few seconds (one process's registry,
// or every worker's through the IPC channel in the supervisor) and adds what grew since its last
// sample of that process to the minute the sample falls in; a counter that went down (a worker
// restarted) counts from zero. Memory is a gauge: the minute keeps its last reading.
import type { MetricJSON } from '../../cluster/messages';

/** the status classes a minute counts requests by */
export const STATUS_CLASSES = ['2xx', '3xx', '4xx', '5xx'] as const;
type StatusClass = (typeof STATUS_CLASSES)[number];

/** the request duration buckets' upper bounds (seconds), as metrics.ts declares them */
export interface MinuteTotals {
  requests: Record<StatusClass, number>;
  /** request duration histogram: count per bucket upper bound (not cumulative), keyed by `le` */
  duration: Record<string, number>;
  cpuSeconds: number;
  coldStarts: number;
  limitCuts: number;
  /** V8 heap + external bytes at the minute's last sample */
  memoryBytes: number | null;
}

/** one series of a query: values per step, aligned with `HistoryAnswer.t` */
export interface TenantHistory {
  requests: Record<StatusClass, number[]>;
  /** requests per second */
  rps: number[];
  /** share of requests answered 5xx (null without requests) */
  errorRate: (number | null)[];
  p50: (number | null)[];
  p99: (number | null)[];
  /** CPU seconds per second */
  cpu: number[];
  coldStarts: number[];
  limitCuts: number[];
  memory: (number | null)[];
  totals: { requests: number; errors: number; coldStarts: number; limitCuts: number; cpuSeconds: number };
}

export interface HistoryAnswer {
  source: 'islet' | 'prometheus';
  /** epoch ms of each step's start */
  t: number[];
  stepSeconds: number;
  from: number;
  to: number;
  /** per tenant, and `_all` for the sum over tenants */
  tenants: Record<string, TenantHistory>;
}

export interface HistoryQuery {
  from: number;
  to: number;
  stepSeconds: number;
  /** only these tenants (the `_all` sum is over them); default every tenant */
  tenants?: string[];
}

export const ALL = '_all';
const MINUTE = 60_000;

function emptyMinute(): MinuteTotals {
  return {
    requests: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
    duration: {},
    cpuSeconds: 0,
    coldStarts: 0,
    limitCuts: 0,
    memoryBytes: null,
  };
}

function classOf(status: string): StatusClass | null {
  const first = status[0];
  if (first === '2' || first === '3' || first === '4' || first === '5') return `${first}xx` as StatusClass;
  return null;
}

/** cumulative values of one process, keyed by metric and labels */
type Snapshot = Map<string, number>;

function snapshot(metrics: MetricJSON[]): { counters: Snapshot; memory: Map<string, number> } {
  const counters: Snapshot = new Map();
  const memory = new Map<string, number>();
  for (const metric of metrics) {
    const name = metric.name;
    for (const v of metric.values as {
      labels: Record<string, string | number>;
      value: number;
      metricName?: string;
    }[]) {
      const tenant = v.labels.tenant;
      if (typeof tenant !== 'string') continue;
      if (name === 'islet_requests_total') {
        const cls = classOf(String(v.labels.status));
        if (cls) counters.set(`r\0${tenant}\0${cls}`, (counters.get(`r\0${tenant}\0${cls}`) ?? 0) + v.value);
      } else if (name === 'islet_request_duration_seconds' && v.metricName?.endsWith('_bucket')) {
        counters.set(`d\0${tenant}\0${v.labels.le}`, v.value);
      } else if (name === 'islet_isolate_cpu_seconds_total') {
        counters.set(`c\0${tenant}`, v.value);
      } else if (name === 'islet_cold_starts_total') {
        counters.set(`s\0${tenant}`, v.value);
      } else if (name === 'islet_limit_exceeded_total') {
        counters.set(`l\0${tenant}`, (counters.get(`l\0${tenant}`) ?? 0) + v.value);
      } else if (name === 'islet_isolate_heap_used_bytes' || name === 'islet_isolate_external_bytes') {
        memory.set(tenant, (memory.get(tenant) ?? 0) + v.value);
      }
    }
  }
  return { counters, memory };
}

export class HistoryStore {
  /** minute start (epoch ms) -> tenant -> totals, oldest first */
  readonly #minutes = new Map<number, Map<string, MinuteTotals>>();
  /** per process: its last cumulative values */
  readonly #previous = new Map<string, Snapshot>();
  readonly #keepMinutes: number;

  constructor(options: { minutes?: number } = {}) {
    this.#keepMinutes = options.minutes ?? 1440;
  }

  /**
   * Adds one sample: each process's metrics (keyed by a name stable for the process's life).
   * Processes missing from `sources` are forgotten (they exited; their counts are already in).
   */
  record(sources: { key: string; metrics: MetricJSON[] }[], now = Date.now()): void {
    const minuteStart = now - (now % MINUTE);
    let minute = this.#minutes.get(minuteStart);
    if (!minute) {
      this.#minutes.set(minuteStart, (minute = new Map()));
      for (const old of this.#minutes.keys()) {
        if (old > minuteStart - this.#keepMinutes * MINUTE) break;
        this.#minutes.delete(old);
      }
    }
    const at = (tenant: string) => {
      let totals = minute!.get(tenant);
      if (!totals) minute!.set(tenant, (totals = emptyMinute()));
      return totals;
    };
    const memoryNow = new Map<string, number>();
    const seen = new Set<string>();
    for (const source of sources) {
      seen.add(source.key);
      const { counters, memory } = snapshot(source.metrics);
      for (const [tenant, bytes] of memory) memoryNow.set(tenant, (memoryNow.get(tenant) ?? 0) + bytes);
      const before = this.#previous.get(source.key);
      this.#previous.set(source.key, counters);
      for (const [key, value] of counters) {
        const prev = before?.get(key) ?? 0;
        const grew = value >= prev ? value - prev : value;
        if (grew <= 0) continue;
        const [kind, tenant, extra] = key.split('\0') as [string, string, string | undefined];
        const totals = at(tenant);
        if (kind === 'r') totals.requests[extra as StatusClass] += grew;
        else if (kind === 'd') totals.duration[extra!] = (totals.duration[extra!] ?? 0) + grew;
        else if (kind === 'c') totals.cpuSeconds += grew;
        else if (kind === 's') totals.coldStarts += grew;
        else if (kind === 'l') totals.limitCuts += grew;
      }
    }
    for (const key of [...this.#previous.keys()]) if (!seen.has(key)) this.#previous.delete(key);
    for (const [tenant, bytes] of memoryNow) at(tenant).memoryBytes = bytes;
  }

  /** every tenant with a minute in [from, to) */
  tenants(from: number, to: number): string[] {
    const out = new Set<string>();
    for (const [start, minute] of this.#minutes)
      if (start >= from - MINUTE && start < to) for (const t of minute.keys()) out.add(t);
    return [...out].sort();
  }

  query(q: HistoryQuery): HistoryAnswer {
    const step = Math.max(60, Math.round(q.stepSeconds / 60) * 60) * 1000;
    const from = q.from - (q.from % step);
    const t: number[] = [];
    for (let s = from; s < q.to; s += step) t.push(s);
    const names = q.tenants ?? this.tenants(from, q.to);
    const buckets = new Map<string, MinuteTotals[]>();
    for (const name of [...names, ALL])
      buckets.set(
        name,
        t.map(() => emptyMinute()),
      );
    for (const [start, minute] of this.#minutes) {
      if (start < from || start >= q.to) continue;
      const index = Math.floor((start - from) / step);
      for (const [tenant, totals] of minute) {
        const target = buckets.get(tenant)?.[index];
        if (!target) continue;
        add(target, totals);
        add(buckets.get(ALL)![index]!, totals);
      }
    }
    const tenants: Record<string, TenantHistory> = {};
    for (const [name, steps] of buckets) tenants[name] = series(steps, step / 1000);
    return { source: 'islet', t, stepSeconds: step / 1000, from, to: q.to, tenants };
  }
}

function add(into: MinuteTotals, from: MinuteTotals): void {
  for (const cls of STATUS_CLASSES) into.requests[cls] += from.requests[cls];
  for (const [le, n] of Object.entries(from.duration)) into.duration[le] = (into.duration[le] ?? 0) + n;
  into.cpuSeconds += from.cpuSeconds;
  into.coldStarts += from.coldStarts;
  into.limitCuts += from.limitCuts;
  // memory of several minutes in one step: the last reading; of several tenants: their sum
  if (from.memoryBytes !== null) into.memoryBytes = (into.memoryBytes ?? 0) + from.memoryBytes;
}

/** the q-quantile of non-cumulative bucket counts, interpolated inside its bucket like histogram_quantile */
export function bucketQuantile(counts: Record<string, number>, q: number): number | null {
  const bounds = Object.keys(counts)
    .map((le) => (le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le)))
    .sort((a, b) => a - b);
  let total = 0;
  for (const b of bounds) total += counts[b === Number.POSITIVE_INFINITY ? '+Inf' : String(b)] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let seen = 0;
  let lower = 0;
  for (const b of bounds) {
    const n = counts[b === Number.POSITIVE_INFINITY ? '+Inf' : String(b)] ?? 0;
    if (seen + n >= rank && n > 0) {
      if (b === Number.POSITIVE_INFINITY) return lower;
      return lower + ((b - lower) * (rank - seen)) / n;
    }
    seen += n;
    if (b !== Number.POSITIVE_INFINITY) lower = b;
  }
  return lower;
}

/** Cumulative bucket snapshots hold `le` counts cumulatively; record() kept their growth per bound. */
function series(steps: MinuteTotals[], stepSeconds: number): TenantHistory {
  const out: TenantHistory = {
    requests: { '2xx': [], '3xx': [], '4xx': [], '5xx': [] },
    rps: [],
    errorRate: [],
    p50: [],
    p99: [],
    cpu: [],
    coldStarts: [],
    limitCuts: [],
    memory: [],
    totals: { requests: 0, errors: 0, coldStarts: 0, limitCuts: 0, cpuSeconds: 0 },
  };
  for (const s of steps) {
    let requests = 0;
    for (const cls of STATUS_CLASSES) {
      out.requests[cls].push(s.requests[cls]);
      requests += s.requests[cls];
    }
    out.rps.push(requests / stepSeconds);
    out.errorRate.push(requests > 0 ? s.requests['5xx'] / requests : null);
    // the growth of each cumulative bucket: the counts of requests at or under each bound
    const perBucket = decumulate(s.duration);
    out.p50.push(bucketQuantile(perBucket, 0.5));
    out.p99.push(bucketQuantile(perBucket, 0.99));
    out.cpu.push(s.cpuSeconds / stepSeconds);
    out.coldStarts.push(s.coldStarts);
    out.limitCuts.push(s.limitCuts);
    out.memory.push(s.memoryBytes);
    out.totals.requests += requests;
    out.totals.errors += s.requests['5xx'];
    out.totals.coldStarts += s.coldStarts;
    out.totals.limitCuts += s.limitCuts;
    out.totals.cpuSeconds += s.cpuSeconds;
  }
  return out;
}

/** cumulative `le` counts -> count per bucket */
function decumulate(cumulative: Record<string, number>): Record<string, number> {
  const bounds = Object.keys(cumulative)
    .map((le) => ({ le, n: le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le) }))
    .sort((a, b) => a.n - b.n);
  const out: Record<string, number> = {};
  let below = 0;
  for (const { le, n } of bounds) {
    const count = cumulative[le]!;
    out[n === Number.POSITIVE_INFINITY ? '+Inf' : String(n)] = Math.max(0, count - below);
    below = Math.max(below, count);
  }
  return out;
}
