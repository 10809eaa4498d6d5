// Where the dashboard's history comes from: islet's own per-minute store (history.ts), fed by a
// recorder sampling every few seconds, or a Prometheus server (config dashboard.prometheusUrl)
// asked with query_range over the metrics islet exports. Both answer the same shape, so the
// dashboard draws either. Under the supervisor the store lives in the primary (it samples every
// worker through the IPC channel and outlives worker restarts); workers ask it for a range.
import type { MetricJSON } from '../../cluster/messages';
import { workerChannel } from '../../cluster/worker-channel';
import {
  ALL,
  type HistoryAnswer,
  type HistoryQuery,
  type HistoryStore,
  STATUS_CLASSES,
  type TenantHistory,
} from './history';

export interface HistorySource {
  query(q: HistoryQuery): Promise<HistoryAnswer>;
}

/** Samples `collect` every `intervalMs` into the store, until stop(). */
export function startRecorder(
  store: HistoryStore,
  collect: () => Promise<{ key: string; metrics: MetricJSON[] }[]>,
  options: { intervalMs?: number; onError?: (error: unknown) => void } = {},
): () => void {
  let busy = false;
  const sample = async () => {
    if (busy) return;
    busy = true;
    try {
      store.record(await collect());
    } catch (error) {
      options.onError?.(error);
    } finally {
      busy = false;
    }
  };
  void sample();
  const timer = setInterval(sample, options.intervalMs ?? 10_000);
  timer.unref();
  return () => clearInterval(timer);
}

export function localHistory(store: HistoryStore): HistorySource {
  return { query: async (q) => store.query(q) };
}

/** In a worker under the supervisor: the primary's store answers. */
export function clusterHistory(): HistorySource {
  return { query: (q) => workerChannel().ask('history.query', q) };
}

interface PromMatrix {
  status: string;
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; values: [number, string][] }[] };
}

/** A Prometheus server's query_range API over islet's metrics, shaped like the local store's answer. */
export function prometheusHistory(baseUrl: string, options: { timeoutMs?: number } = {}): HistorySource {
  const base = baseUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 10_000;

  async function range(expr: string, t: number[], step: number): Promise<PromMatrix['data'] & object> {
    // evaluated exactly at the steps' times, so each answer lands on its step
    const params = new URLSearchParams({
      query: expr,
      start: String(t[0]! / 1000),
      end: String(t[t.length - 1]! / 1000),
      step: `${step}s`,
    });
    const response = await fetch(`${base}/api/v1/query_range?${params}`, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await response.json()) as PromMatrix;
    if (body.status !== 'success' || !body.data) throw new Error(`Prometheus: ${body.error ?? response.statusText}`);
    return body.data;
  }

  return {
    async query(q) {
      const step = Math.max(15, Math.round(q.stepSeconds));
      // a window of at least a minute: rate() needs two scrapes inside it whatever the step
      const w = `${Math.max(step, 60)}s`;
      // steps aligned to the step size; the last one ends at `to`, so the present is in it
      const stepMs = step * 1000;
      const t: number[] = [];
      for (let s = q.to - Math.floor((q.to - q.from) / stepMs) * stepMs; s <= q.to; s += stepMs) t.push(s);
      const only = q.tenants?.length
        ? `{tenant=~"${q.tenants.map((t) => t.replace(/[^a-z0-9_-]/g, '')).join('|')}"}`
        : '';
      const [requests, p50, p99, cpu, cold, cuts, heap, external] = await Promise.all([
        range(`sum by (tenant, status) (increase(islet_requests_total${only}[${w}]))`, t, step),
        range(
          `histogram_quantile(0.5, sum by (tenant, le) (rate(islet_request_duration_seconds_bucket${only}[${w}])))`,
          t,
          step,
        ),
        range(
          `histogram_quantile(0.99, sum by (tenant, le) (rate(islet_request_duration_seconds_bucket${only}[${w}])))`,
          t,
          step,
        ),
        range(`sum by (tenant) (rate(islet_isolate_cpu_seconds_total${only}[${w}]))`, t, step),
        range(`sum by (tenant) (increase(islet_cold_starts_total${only}[${w}]))`, t, step),
        range(`sum by (tenant) (increase(islet_limit_exceeded_total${only}[${w}]))`, t, step),
        range(`sum by (tenant) (islet_isolate_heap_used_bytes${only})`, t, step),
        range(`sum by (tenant) (islet_isolate_external_bytes${only})`, t, step),
      ]);
      const index = (seconds: number) => Math.round((seconds * 1000 - t[0]!) / (step * 1000));
      const tenants: Record<string, TenantHistory> = {};
      const of = (name: string): TenantHistory => {
        let h = tenants[name];
        if (!h) {
          const zeros = () => t.map(() => 0);
          const nulls = () => t.map(() => null);
          h = tenants[name] = {
            requests: { '2xx': zeros(), '3xx': zeros(), '4xx': zeros(), '5xx': zeros() },
            rps: zeros(),
            errorRate: nulls(),
            p50: nulls(),
            p99: nulls(),
            cpu: zeros(),
            coldStarts: zeros(),
            limitCuts: zeros(),
            memory: nulls(),
            totals: { requests: 0, errors: 0, coldStarts: 0, limitCuts: 0, cpuSeconds: 0 },
          };
        }
        return h;
      };
      of(ALL);
      const each = (
        data: { result: { metric: Record<string, string>; values: [number, string][] }[] },
        put: (h: TenantHistory, i: number, v: number, metric: Record<string, string>) => void,
      ) => {
        for (const series of data.result) {
          const tenant = series.metric.tenant;
          if (!tenant) continue;
          for (const [seconds, text] of series.values) {
            const i = index(seconds);
            const v = Number(text);
            if (i < 0 || i >= t.length || !Number.isFinite(v)) continue;
            put(of(tenant), i, v, series.metric);
            if (put !== setQuantile50 && put !== setQuantile99) put(of(ALL), i, v, series.metric);
          }
        }
      };
      const setQuantile50 = (h: TenantHistory, i: number, v: number) => void (h.p50[i] = v);
      const setQuantile99 = (h: TenantHistory, i: number, v: number) => void (h.p99[i] = v);
      each(requests, (h, i, v, metric) => {
        const cls = `${String(metric.status)[0]}xx` as (typeof STATUS_CLASSES)[number];
        if (!STATUS_CLASSES.includes(cls)) return;
        h.requests[cls][i]! += v;
      });
      each(p50, setQuantile50);
      each(p99, setQuantile99);
      each(cpu, (h, i, v) => void (h.cpu[i]! += v));
      each(cold, (h, i, v) => void (h.coldStarts[i]! += v));
      each(cuts, (h, i, v) => void (h.limitCuts[i]! += v));
      each(heap, (h, i, v) => void (h.memory[i] = (h.memory[i] ?? 0) + v));
      each(external, (h, i, v) => void (h.memory[i] = (h.memory[i] ?? 0) + v));
      for (const h of Object.values(tenants)) {
        t.forEach((_, i) => {
          const total = STATUS_CLASSES.reduce((n, cls) => n + h.requests[cls][i]!, 0);
          h.rps[i] = total / step;
          h.errorRate[i] = total > 0 ? h.requests['5xx'][i]! / total : null;
          h.totals.requests += total;
          h.totals.errors += h.requests['5xx'][i]!;
          h.totals.coldStarts += h.coldStarts[i]!;
          h.totals.limitCuts += h.limitCuts[i]!;
          h.totals.cpuSeconds += h.cpu[i]! * step;
        });
      }
      return { source: 'prometheus', t, stepSeconds: step, from: q.from, to: q.to, tenants };
    },
  };
}
