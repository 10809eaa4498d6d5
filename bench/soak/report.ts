// The soak's printed summary: one row per variant, then what went wrong, if anything.
import type { IsletCounts, MemoryBreakdown } from './metrics';
import type { LoadOutcome } from './loadgen-child';
import type { RssSummary } from './rss';
import type { WarmupResult } from './warmup';

export interface VariantResult {
  name: string;
  describe: string;
  poolMaxIsolates: number | null;
  workers: number;
  /** the first touch of every tenant before the load (warm variant only) */
  warmup: WarmupResult | null;
  load: LoadOutcome;
  ticks: { t: number; ok: number; limit: number; errors: number; p99: number }[];
  rss: RssSummary;
  /** live isolates and islet's own memory figures (all workers) every 5 s, on the RSS clock */
  memory: MemorySample[];
  /** change of each figure over the second half of the load, MB (isolates: count) */
  memoryTrend: Record<string, number>;
  /** mean tenant heap in use per isolate, by function kind, when the load started and at its end */
  heapByKind: {
    atLoadStart: Record<string, { tenants: number; meanMB: number }>;
    atEnd: Record<string, { tenants: number; meanMB: number }>;
  };
  islet: IsletCounts;
  waitUntil: { timersOk: number; beacons: number; lost: number };
  /** load errors + lost waitUntil work + a server that died */
  errors: number;
  serverAlive: boolean;
  /** the end of the server's output, kept when something went wrong */
  serverOutput?: string;
}

export type MemorySample = { t: number } & MemoryBreakdown;

/** How each figure moved over the second half of the load (last sample minus the one at its start). */
export function memoryTrend(samples: MemorySample[], fromT: number, toT: number): Record<string, number> {
  const half = samples.filter((s) => s.t >= (fromT + toT) / 2 && s.t <= toT + 1);
  if (half.length < 2) return {};
  const a = half[0];
  const b = half[half.length - 1];
  const out: Record<string, number> = { overSeconds: Math.round(b.t - a.t) };
  for (const key of Object.keys(a) as (keyof MemorySample)[]) {
    if (key !== 't') out[key] = Math.round((b[key] - a[key]) * 10) / 10;
  }
  return out;
}

const pad = (v: string | number, n: number) => String(v).padStart(n);
const sum = (s: Record<string, number>) => Object.values(s).reduce((a, b) => a + b, 0);
const fmt = (s: Record<string, number>) =>
  Object.entries(s)
    .map(([k, v]) => `${k || 'all'} ${v}`)
    .join(', ') || 'none';

export function printReport(variants: VariantResult[]): void {
  console.log(
    `\n${'variant'.padEnd(8)} ${pad('pool', 5)} ${pad('req/s', 7)} ${pad('p50 ms', 7)} ${pad('p99 ms', 7)} ${pad('ok', 8)} ${pad('cut 503', 7)} ${pad('errors', 6)} ${pad('cold', 6)} ${pad('evicted', 7)}  RSS MB first/min/max/last   2nd-half slope   verdict`,
  );
  for (const v of variants) {
    const l = v.load;
    const rps = Math.round(l.requests / l.durationSeconds);
    const r = v.rss;
    console.log(
      `${v.name.padEnd(8)} ${pad(v.poolMaxIsolates ?? 'dflt', 5)} ${pad(rps, 7)} ${pad(l.latencyMs.p50.toFixed(2), 7)} ${pad(l.latencyMs.p99.toFixed(2), 7)} ${pad(l.ok, 8)} ${pad(l.limit, 7)} ${pad(v.errors, 6)} ${pad(v.islet.coldStarts, 6)} ${pad(sum(v.islet.evictionsByReason), 7)}  ${`${Math.round(r.firstMB)}/${Math.round(r.minMB)}/${Math.round(r.maxMB)}/${Math.round(r.lastMB)}`.padEnd(24)} ${pad(`${r.secondHalfSlopeMBPerMin} MB/min`, 14)}   ${r.verdict}`,
    );
  }
  for (const v of variants) {
    console.log(`\n${v.name}: ${v.describe}`);
    console.log(
      `  per kind (ok / cut / errors, p99 ms): ${Object.entries(v.load.byKind)
        .map(([k, s]) => `${k} ${s.ok}/${s.limit}/${s.errors} ${s.latencyMs.p99}`)
        .join('; ')}`,
    );
    console.log(
      `  islet counted: ${v.islet.coldStarts} cold starts; evictions ${fmt(v.islet.evictionsByReason)}; limit cuts ${fmt(v.islet.limitsByKind)} (tenant series: a lower bound); isolates at the end ${fmt(v.islet.isolatesByState)}`,
    );
    console.log(
      `  waitUntil beacons ${v.waitUntil.beacons} for ${v.waitUntil.timersOk} timers answers (lost ${v.waitUntil.lost}); ${v.load.sessions} connections, ${v.load.tenantsTouched} tenants reached`,
    );
    if (v.warmup)
      console.log(
        `  first touches (${v.warmup.touchesPerTenant} per tenant, fresh connections): ${v.warmup.ok}/${v.warmup.tenants * v.warmup.touchesPerTenant} answered correctly in ${v.warmup.seconds} s, p50 ${v.warmup.latencyMs.p50} ms, p99 ${v.warmup.latencyMs.p99} ms, ${v.warmup.coldStarts ?? '?'} cold starts (not in the table)`,
      );
    console.log(
      `  RSS: the load's second half added ${v.rss.secondHalfGrowthMB} MB of the ${v.rss.loadGrowthMB} MB the load added (${v.rss.totalGrowthMB} MB since the idle server; noise floor ${v.rss.noiseFloorMB} MB)`,
    );
    const m = v.memory[v.memory.length - 1];
    if (m) {
      console.log(
        `  islet's figures at the end: ${m.isolates} isolates, tenant heaps ${m.isolateHeapUsedMB} MB used + ${m.isolateExternalMB} MB external, Node heap ${m.nodeHeapUsedMB}/${m.nodeHeapTotalMB} MB, Node external ${m.nodeExternalMB} MB`,
      );
      console.log(
        `  their change over the load's second half: ${Object.entries(v.memoryTrend)
          .map(([k, d]) => `${k} ${d > 0 ? '+' : ''}${d}`)
          .join(', ')}`,
      );
    }
    const kinds = Object.keys(v.heapByKind.atEnd).sort();
    if (kinds.length)
      console.log(
        `  mean heap in use per isolate, load start -> end (MB): ${kinds.map((k) => `${k} ${v.heapByKind.atLoadStart[k]?.meanMB ?? '?'} -> ${v.heapByKind.atEnd[k].meanMB}`).join(', ')}`,
      );
    console.log(`  processes: ${v.rss.processesSeen.map((p) => `${p.role} ${p.pid} (max ${p.maxMB} MB)`).join(', ')}`);
    if (v.errors > 0) {
      console.log(
        `  ERRORS by reason: ${fmt(v.load.errorsByReason)}${v.waitUntil.lost ? `, waitUntil lost ${v.waitUntil.lost}` : ''}${v.warmup?.errors.length ? `, first touch ${v.warmup.errors.length}` : ''}${v.serverAlive ? '' : ', server died'}`,
      );
      for (const e of v.warmup?.errors.slice(0, 4) ?? []) console.log(`    first touch of ${e.tenant}: ${e.what}`);
      for (const s of v.load.errorSamples.slice(0, 8))
        console.log(
          `    at ${s.atSeconds}s ${s.tenant} (${s.kind}) ${s.path}: ${s.what}${s.body ? ` | ${JSON.stringify(s.body.slice(0, 120))}` : ''}`,
        );
    }
  }
}
