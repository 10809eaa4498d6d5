// Live numbers per tenant from the Prometheus text of /metrics. Each poll is compared with the
// previous one: counters become rates, histogram buckets become p50/p99 of the requests seen in
// between, and limit counters that grew become events. A short history feeds the sparklines.
import { bucketDelta, bucketsBy, parseMetrics, quantile, rate, sumBy } from './prom.mjs';

// The names server/observe/metrics/ exports. Kept in one place so a rename is a one-line change.
export const METRIC = {
  requests: 'islet_requests_total',
  duration: 'islet_request_duration_seconds',
  cpu: 'islet_isolate_cpu_seconds_total',
  memory: 'islet_isolate_heap_used_bytes',
  external: 'islet_isolate_external_bytes',
  limits: 'islet_limit_exceeded_total',
};

const HISTORY = 60;

/** Memory of a tenant = V8 heap in use + bytes outside the heap (ArrayBuffers). */
function addMaps(a, b) {
  const out = new Map(a);
  for (const [key, value] of b) out.set(key, (out.get(key) ?? 0) + value);
  return out;
}
export const SERIES = ['rps', 'errors', 'p50', 'p99', 'cpu', 'memory'];

export class Stats {
  #previous = null;
  /** tenant -> { rps: number[], errors: ..., p50, p99, cpu, memory } (null where unknown) */
  history = new Map();
  /** `${tenant}\u0000${limit}` -> count since the server started */
  limitTotals = new Map();
  /** newest last: { time, tenant, limit, count } */
  limitEvents = [];

  /** Folds one scrape in; `now` is in milliseconds. Returns the limit events it found. */
  update(text, now) {
    const samples = parseMetrics(text);
    const current = {
      time: now,
      requests: sumBy(samples, METRIC.requests, 'tenant'),
      errors: sumBy(samples, METRIC.requests, 'tenant', (l) => Number(l.status) >= 500),
      buckets: bucketsBy(samples, METRIC.duration, 'tenant'),
      cpu: sumBy(samples, METRIC.cpu, 'tenant'),
      memory: addMaps(sumBy(samples, METRIC.memory, 'tenant'), sumBy(samples, METRIC.external, 'tenant')),
      limits: new Map(),
    };
    for (const s of samples) {
      if (s.name !== METRIC.limits || !('tenant' in s.labels)) continue;
      const key = `${s.labels.tenant}\u0000${s.labels.limit ?? 'unknown'}`;
      current.limits.set(key, (current.limits.get(key) ?? 0) + s.value);
    }

    const found = [];
    const prev = this.#previous;
    if (prev) {
      const seconds = (now - prev.time) / 1000;
      const tenants = new Set([
        ...current.requests.keys(),
        ...current.cpu.keys(),
        ...current.memory.keys(),
        ...this.history.keys(),
      ]);
      for (const tenant of tenants) {
        const requests = rate(prev.requests.get(tenant), current.requests.get(tenant), seconds);
        const errors = rate(prev.errors.get(tenant), current.errors.get(tenant), seconds);
        const window = current.buckets.has(tenant)
          ? bucketDelta(prev.buckets.get(tenant), current.buckets.get(tenant))
          : new Map();
        this.#push(tenant, {
          rps: requests,
          errors: requests > 0 ? Math.min(1, errors / requests) : null,
          p50: quantile(window, 0.5),
          p99: quantile(window, 0.99),
          cpu: current.cpu.has(tenant) ? rate(prev.cpu.get(tenant), current.cpu.get(tenant), seconds) : null,
          memory: current.memory.has(tenant) ? current.memory.get(tenant) : null,
        });
      }
      for (const [key, count] of current.limits) {
        const before = prev.limits.get(key) ?? 0;
        if (count > before) {
          const [tenant, limit] = key.split('\u0000');
          found.push({ time: now, tenant, limit, count: count - before });
        }
      }
      this.limitEvents.push(...found);
      if (this.limitEvents.length > 200) this.limitEvents.splice(0, this.limitEvents.length - 200);
    }
    this.limitTotals = current.limits;
    this.#previous = current;
    return found;
  }

  /** The latest value of each series for a tenant (null when unknown). */
  latest(tenant) {
    const h = this.history.get(tenant);
    const out = {};
    for (const name of SERIES) out[name] = h ? (h[name][h[name].length - 1] ?? null) : null;
    return out;
  }

  #push(tenant, point) {
    let h = this.history.get(tenant);
    if (!h) {
      h = Object.fromEntries(SERIES.map((name) => [name, []]));
      this.history.set(tenant, h);
    }
    for (const name of SERIES) {
      h[name].push(point[name]);
      if (h[name].length > HISTORY) h[name].shift();
    }
  }
}
