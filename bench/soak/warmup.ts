// The first touches of every tenant, before the measured load of the warm variant: `touches`
// requests each, every one on a fresh connection, a few at a time, every answer checked.
// Without it the long tail of a skewed load keeps meeting tenants for the first time for
// minutes, and RSS rises with each new isolate for as long: the plateau could not be told from a
// leak within a one-minute run. Several touches per tenant because under ISLET_WORKERS each
// worker starts its own isolate for a tenant the first time one of its connections asks for
// it: the supervisor gives a hostname to one worker, but a tenant with several connections
// open at once is spread over workers (and a supervisor without hostname affinity hands
// connections out in turn), so later touches may reach a worker the first one did not.
import { request } from '../lib/http';
import { percentileSorted } from '../lib/stats';
import { hashAnswers, planRequest, type TenantSpec } from './tenants';

export interface WarmupResult {
  seconds: number;
  tenants: number;
  touchesPerTenant: number;
  /** isolates started by the touches, as islet counted them (filled in by the harness) */
  coldStarts?: number;
  ok: number;
  errors: { tenant: string; what: string }[];
  /** latency of these first (cold) requests, ms */
  latencyMs: { p50: number; p99: number; max: number };
}

export async function touchEveryTenant(
  origin: string,
  baseDomain: string,
  tenants: TenantSpec[],
  touches: number,
  concurrency = 8,
): Promise<WarmupResult> {
  const hashes = hashAnswers();
  // 0.99: never the burning request of a hog, and any seed/item is as good as another
  const calm = () => 0.99;
  const started = performance.now();
  const latencies: number[] = [];
  const errors: WarmupResult['errors'] = [];
  let ok = 0;
  // tenant by tenant, each `touches` times in a row (a tenant's touches overlap in time, the
  // way a burst of first visitors would)
  const queue = tenants.flatMap((t) => Array.from({ length: touches }, () => t));
  let next = 0;
  const toucher = async () => {
    while (next < queue.length) {
      const t = queue[next++];
      const req = planRequest(t, calm, `warmup-${t.name}`, hashes);
      const headers: Record<string, string> = { host: `${t.name}.${baseDomain}` };
      if (req.contentType) headers['content-type'] = req.contentType;
      const t0 = performance.now();
      try {
        const res = await request(`${origin}${req.path}`, {
          method: req.method,
          headers,
          body: req.body,
          timeoutMs: 15_000,
        });
        latencies.push(performance.now() - t0);
        const h = res.headers['islet-error'];
        const verdict = req.check(res.status, Array.isArray(h) ? h[0] : h, res.body.toString('utf8'));
        if ('ok' in verdict) ok++;
        else errors.push({ tenant: t.name, what: 'error' in verdict ? verdict.error : 'unexpected limit cut' });
      } catch (err) {
        errors.push({ tenant: t.name, what: `network: ${(err as Error).message}` });
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, toucher));
  const sorted = Float64Array.from(latencies).sort();
  const r = (v: number) => Math.round(v * 100) / 100;
  return {
    seconds: r((performance.now() - started) / 1000),
    tenants: tenants.length,
    touchesPerTenant: touches,
    ok,
    errors,
    latencyMs: {
      p50: r(percentileSorted(sorted, 50)),
      p99: r(percentileSorted(sorted, 99)),
      max: sorted.length ? r(sorted[sorted.length - 1]) : Number.NaN,
    },
  };
}
