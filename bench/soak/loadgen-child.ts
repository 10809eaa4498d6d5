// The soak's load generator, in its own process (never on the harness's or the server's event
// loop). `connections` virtual users each run sessions until the deadline: pick a tenant, open
// one keep-alive connection with its Host, send a run of requests on it, close it. A
// connection per tenant session is how browsers and API clients behave, and it is what islet's
// supervisor routes by (it reads a connection's first Host to pick the worker that owns the
// tenant), so the soak exercises connection hand-over and isolate placement, not only dispatch.
//
// Traffic is skewed the way real traffic is: most sessions go to a hot set of tenants, the rest
// spread over the long tail (which is what makes a small pool evict), and a small share go to
// the hog tenants. Every answer is judged by the tenant kind's check (tenants.ts): a wrong
// status or body from a well-behaved tenant, a connection error or a timeout is an error; a CPU
// cut of a hog's burning request is an expected limit, counted apart.
//
// Why not autocannon (bench/lib/loadgen): it keeps each connection for the whole run and the
// response that triggers its reconnect option is never reported, so it cannot run per-tenant
// sessions and judge every answer. undici's Client gives one connection per session, exact
// timings, and the body of every response.
//
// Output on stdout, one JSON object per line: {"type":"tick",...} every second, then
// {"type":"result",...}.
import { Client } from 'undici';
import { hashAnswers, planRequest, type Kind, type TenantSpec } from './tenants';
import { percentileSorted } from '../lib/stats';

export interface LoadPlan {
  /** tenant traffic origin, e.g. http://127.0.0.1:43210 */
  origin: string;
  baseDomain: string;
  tenants: TenantSpec[];
  /** sessions go to the first `hot` tenants with probability `hotShare` */
  hot: number;
  hotShare: number;
  /** probability that a session goes to one of the hog tenants */
  hogShare: number;
  connections: number;
  durationSeconds: number;
  /** total requests per second to aim at (0: each user sends as soon as its last answer is in) */
  rate: number;
  /** a session sends 1..maxSessionRequests requests on its connection */
  maxSessionRequests: number;
  seed: number;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface Tick {
  type: 'tick';
  /** seconds since the load started */
  t: number;
  ok: number;
  limit: number;
  errors: number;
  p99: number;
}

export interface ErrorSample {
  atSeconds: number;
  tenant: string;
  kind: Kind;
  path: string;
  what: string;
  body?: string;
}

export interface LoadOutcome {
  type: 'result';
  durationSeconds: number;
  requests: number;
  ok: number;
  /** answers cut by a limit where a cut was the expected answer (hog tenants burning) */
  limit: number;
  errors: number;
  /** error count by reason, e.g. "status 502", "wrong body", "network UND_ERR_SOCKET" */
  errorsByReason: Record<string, number>;
  errorSamples: ErrorSample[];
  sessions: number;
  /** answers per kind: ok / limit / errors */
  byKind: Record<string, { ok: number; limit: number; errors: number; latencyMs: LatencySummary }>;
  /** latency of every answered request, ms (ok, limit or wrong) */
  latencyMs: LatencySummary;
  /** the timers kind's successful answers: each should yield one waitUntil beacon */
  timersOk: number;
  tenantsTouched: number;
}

/** A small seeded generator (mulberry32) so a run's tenant choices can be repeated. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function summarize(samples: number[]): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const r = (v: number) => Math.round(v * 1000) / 1000;
  return {
    count: sorted.length,
    p50: r(percentileSorted(sorted, 50)),
    p90: r(percentileSorted(sorted, 90)),
    p99: r(percentileSorted(sorted, 99)),
    max: sorted.length ? r(sorted[sorted.length - 1]) : Number.NaN,
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const parsed = JSON.parse(process.argv[2] ?? 'null') as LoadPlan | null;
  if (!parsed?.origin) throw new Error('soak loadgen-child: expected the load plan as JSON in argv[2]');
  const plan: LoadPlan = parsed;
  const hashes = hashAnswers();
  const random = mulberry32(plan.seed);
  const hogs = plan.tenants.filter((t) => t.kind === 'hog');
  const calm = plan.tenants.filter((t) => t.kind !== 'hog');
  const hot = calm.slice(0, Math.max(1, Math.min(plan.hot, calm.length)));
  const tail = calm.slice(hot.length);

  const start = performance.now();
  const deadline = start + plan.durationSeconds * 1000;
  const seconds = () => (performance.now() - start) / 1000;

  const latencies: number[] = [];
  const kinds = new Map<Kind, { ok: number; limit: number; errors: number; latencies: number[] }>();
  const errorsByReason: Record<string, number> = {};
  const errorSamples: ErrorSample[] = [];
  const touched = new Set<string>();
  let ok = 0;
  let limit = 0;
  let errors = 0;
  let sessions = 0;
  let timersOk = 0;
  let nextId = 0;
  let tick = { ok: 0, limit: 0, errors: 0, latencies: [] as number[] };

  const kindStats = (k: Kind) => {
    let s = kinds.get(k);
    if (!s) kinds.set(k, (s = { ok: 0, limit: 0, errors: 0, latencies: [] }));
    return s;
  };
  const recordError = (t: TenantSpec, path: string, what: string, body?: string) => {
    errors++;
    tick.errors++;
    kindStats(t.kind).errors++;
    const reason = what.startsWith('network') ? what.split(':')[0] : what;
    errorsByReason[reason] = (errorsByReason[reason] ?? 0) + 1;
    if (errorSamples.length < 40)
      errorSamples.push({
        atSeconds: Math.round(seconds() * 10) / 10,
        tenant: t.name,
        kind: t.kind,
        path,
        what,
        body: body?.slice(0, 300),
      });
  };

  const pickTenant = (): TenantSpec => {
    const r = random();
    if (hogs.length && r < plan.hogShare) return hogs[Math.floor(random() * hogs.length)];
    if (!tail.length || random() < plan.hotShare) return hot[Math.floor(random() * hot.length)];
    return tail[Math.floor(random() * tail.length)];
  };

  // pacing: each user owns 1/connections of the rate
  const interval = plan.rate > 0 ? (1000 * plan.connections) / plan.rate : 0;

  async function user(index: number): Promise<void> {
    let nextAt = performance.now() + (interval ? (interval * index) / plan.connections : 0);
    while (performance.now() < deadline) {
      const tenant = pickTenant();
      touched.add(tenant.name);
      sessions++;
      const host = `${tenant.name}.${plan.baseDomain}`;
      const client = new Client(plan.origin, {
        pipelining: 1,
        headersTimeout: 15_000,
        bodyTimeout: 15_000,
        connect: { timeout: 10_000 },
      });
      const count = 1 + Math.floor(random() * plan.maxSessionRequests);
      try {
        for (let i = 0; i < count && performance.now() < deadline; i++) {
          if (interval) {
            const wait = nextAt - performance.now();
            if (wait > 0) await sleep(wait);
            nextAt = Math.max(nextAt + interval, performance.now() - interval * 4);
          }
          const req = planRequest(tenant, random, `u${index}-${nextId++}`, hashes);
          const headers: Record<string, string> = { host };
          if (req.contentType) headers['content-type'] = req.contentType;
          const t0 = performance.now();
          let status: number;
          let isletError: string | undefined;
          let body: string;
          try {
            const res = await client.request({ method: req.method, path: req.path, headers, body: req.body });
            status = res.statusCode;
            const h = res.headers['islet-error'];
            isletError = Array.isArray(h) ? h[0] : h;
            body = await res.body.text();
          } catch (err) {
            const e = err as NodeJS.ErrnoException;
            recordError(tenant, req.path, `network ${e.code ?? e.name}: ${e.message}`);
            break; // the connection is gone: start a new session
          }
          const ms = performance.now() - t0;
          latencies.push(ms);
          tick.latencies.push(ms);
          const stats = kindStats(tenant.kind);
          stats.latencies.push(ms);
          const verdict = req.check(status, isletError, body);
          if ('ok' in verdict) {
            ok++;
            tick.ok++;
            stats.ok++;
            if (tenant.kind === 'timers') timersOk++;
          } else if ('limit' in verdict) {
            limit++;
            tick.limit++;
            stats.limit++;
          } else {
            recordError(tenant, req.path, verdict.error, body);
          }
        }
      } finally {
        await client.close().catch(() => client.destroy());
      }
    }
  }

  const ticker = setInterval(() => {
    const sorted = Float64Array.from(tick.latencies).sort();
    const line: Tick = {
      type: 'tick',
      t: Math.round(seconds()),
      ok: tick.ok,
      limit: tick.limit,
      errors: tick.errors,
      p99: Math.round(percentileSorted(sorted, 99) * 100) / 100,
    };
    process.stdout.write(JSON.stringify(line) + '\n');
    tick = { ok: 0, limit: 0, errors: 0, latencies: [] };
  }, 1000);

  await Promise.all(Array.from({ length: plan.connections }, (_, i) => user(i)));
  clearInterval(ticker);
  const duration = seconds();

  const outcome: LoadOutcome = {
    type: 'result',
    durationSeconds: Math.round(duration * 100) / 100,
    requests: ok + limit + errors,
    ok,
    limit,
    errors,
    errorsByReason,
    errorSamples,
    sessions,
    byKind: Object.fromEntries(
      [...kinds].map(([k, s]) => [
        k,
        { ok: s.ok, limit: s.limit, errors: s.errors, latencyMs: summarize(s.latencies) },
      ]),
    ),
    latencyMs: summarize(latencies),
    timersOk,
    tenantsTouched: touched.size,
  };
  process.stdout.write(JSON.stringify(outcome) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`soak loadgen-child: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
