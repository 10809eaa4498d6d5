// What islet itself counted during a soak run, read from GET /metrics (admin port, operator
// token; under ISLET_WORKERS any worker answers with the sum over all of them). Scraped before
// and after the load so the report shows what the load caused, not what deploying did.
import { request } from '../lib/http';

/** Sums of the series of one metric, by the value of one label ('' when summed over all). */
export type Series = Record<string, number>;

export interface IsletCounts {
  /** from islet_cold_start_seconds_count: the per-tenant islet_cold_starts_total series cannot be
   *  summed into a total, since a tenant that drops out of the labelled top N loses its series */
  coldStarts: number;
  evictionsByReason: Series;
  /** summed over tenant series, so a lower bound (see coldStarts) */
  limitsByKind: Series;
  /** live isolates by state at the later scrape (a gauge) */
  isolatesByState: Series;
}

export async function scrapeMetrics(adminUrl: string, token: string): Promise<string> {
  const res = await request(`${adminUrl}/metrics`, {
    headers: { authorization: `Bearer ${token}` },
    timeoutMs: 15_000,
  });
  if (res.status !== 200)
    throw new Error(`GET ${adminUrl}/metrics answered ${res.status}: ${res.body.toString('utf8', 0, 300)}`);
  return res.body.toString('utf8');
}

/** Sums every sample of `name` (exact metric name), grouped by `label` when given. */
export function sumBy(text: string, name: string, label?: string): Series {
  const out: Series = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || line.startsWith('#')) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue; // a longer name sharing the prefix
    const close = rest.lastIndexOf('}');
    const labels = rest[0] === '{' ? rest.slice(1, close) : '';
    const value = Number(
      rest
        .slice(close + 1)
        .trim()
        .split(' ')[0],
    );
    if (!Number.isFinite(value)) continue;
    let key = '';
    if (label) {
      const m = new RegExp(`(?:^|,)${label}="((?:[^"\\\\]|\\\\.)*)"`).exec(labels);
      key = m ? m[1] : '';
    }
    out[key] = (out[key] ?? 0) + value;
  }
  return out;
}

export function countsOf(text: string): IsletCounts {
  return {
    coldStarts: sumBy(text, 'islet_cold_start_seconds_count')[''] ?? 0,
    evictionsByReason: sumBy(text, 'islet_isolate_evictions_total', 'reason'),
    limitsByKind: sumBy(text, 'islet_limit_exceeded_total', 'limit'),
    isolatesByState: sumBy(text, 'islet_isolates', 'state'),
  };
}

function diff(after: Series, before: Series): Series {
  const out: Series = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

/** What happened between two scrapes (the isolate gauge is taken from the later one). */
export function countsBetween(before: IsletCounts, after: IsletCounts): IsletCounts {
  return {
    coldStarts: after.coldStarts - before.coldStarts,
    evictionsByReason: diff(after.evictionsByReason, before.evictionsByReason),
    limitsByKind: diff(after.limitsByKind, before.limitsByKind),
    isolatesByState: after.isolatesByState,
  };
}

/** Where memory sits, from one scrape (MB, summed over every process that reports). */
export interface MemoryBreakdown {
  /** live isolates, every state */
  isolates: number;
  /** V8 heap in use by tenant isolates (islet_isolate_heap_used_bytes, sampled by the pool) */
  isolateHeapUsedMB: number;
  /** ArrayBuffers and other memory held outside tenant heaps (islet_isolate_external_bytes) */
  isolateExternalMB: number;
  /** Node's own JavaScript heap in use (nodejs_heap_size_used_bytes) and in total */
  nodeHeapUsedMB: number;
  nodeHeapTotalMB: number;
  /** memory held by Node's ArrayBuffers and Buffers (nodejs_external_memory_bytes) */
  nodeExternalMB: number;
}

export function memoryOf(text: string): MemoryBreakdown {
  const total = (name: string) => Object.values(sumBy(text, name)).reduce((a, b) => a + b, 0);
  const mb = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;
  return {
    isolates: Object.values(sumBy(text, 'islet_isolates', 'state')).reduce((a, b) => a + b, 0),
    isolateHeapUsedMB: mb(total('islet_isolate_heap_used_bytes')),
    isolateExternalMB: mb(total('islet_isolate_external_bytes')),
    nodeHeapUsedMB: mb(total('nodejs_heap_size_used_bytes')),
    nodeHeapTotalMB: mb(total('nodejs_heap_size_total_bytes')),
    nodeExternalMB: mb(total('nodejs_external_memory_bytes')),
  };
}

/**
 * Mean V8 heap in use per isolate of each function kind, from the tenant-labelled
 * islet_isolate_heap_used_bytes series (tenants outside the labelled top N are left out). A
 * kind whose heaps keep growing while the others stay put points at the shim path it uses.
 */
export function heapByKind(
  text: string,
  kindOf: (tenant: string) => string | undefined,
): Record<string, { tenants: number; meanMB: number }> {
  const sums = new Map<string, { tenants: number; bytes: number }>();
  for (const [tenant, bytes] of Object.entries(sumBy(text, 'islet_isolate_heap_used_bytes', 'tenant'))) {
    const kind = kindOf(tenant);
    if (!kind) continue;
    const s = sums.get(kind) ?? { tenants: 0, bytes: 0 };
    s.tenants++;
    s.bytes += bytes;
    sums.set(kind, s);
  }
  return Object.fromEntries(
    [...sums].map(([k, s]) => [
      k,
      { tenants: s.tenants, meanMB: Math.round((s.bytes / s.tenants / 1048576) * 100) / 100 },
    ]),
  );
}
