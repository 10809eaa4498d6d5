// bench/soak: many tenants under sustained mixed load for a fixed time. A real `islet serve`
// runs as a child process (its own data directory, token and loopback ports); the tenants are
// deployed through the admin API; a load generator in another process spreads sessions over
// all tenants by Host for the whole duration; the server's RSS (every process of it) is read
// each second. Reports errors (must be 0), RSS over time (must plateau), throughput, latency,
// and what islet counted (cold starts, evictions, limit cuts).
//
// Two variants, each on a fresh server over the same stored deployments:
//   warm   the default pool: every tenant is touched first (its cold starts, every answer
//          checked; warmup.ts says why), then the measured load runs on warm isolates
//   churn  a pool bound smaller than the tenant set (ISLET_POOL_MAX_ISOLATES): the long tail
//          keeps evicting and cold-starting isolates for the whole run
//
// Usage: npm run bench -- soak   or   node bench/soak/index.js [--duration 150] [--quick]
//        [--tenants 200] [--workers N] [--connections 32] [--rate 0] [--variant warm|churn|both]
//        [--pool N] [--seed 1]
// Writes bench/results/soak.json. Exits 1 when a run had errors, a server died, or RSS grew.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { request } from '../lib/http';
import { machineInfo } from '../lib/machine';
import { sleep } from '../lib/proc';
import { startIslet, type IsletServer } from '../peers/systems/islet';
import type { LoadOutcome, LoadPlan, Tick } from './loadgen-child';
import { countsBetween, countsOf, heapByKind, memoryOf, scrapeMetrics } from './metrics';
import { memoryTrend, printReport, type MemorySample, type VariantResult } from './report';
import { RssSampler } from './rss';
import { HOG_CPU_MS, moduleSource, planTenants, type TenantSpec } from './tenants';
import { startUpstream, type Upstream } from './upstream';
import { touchEveryTenant, type WarmupResult } from './warmup';

const root = path.resolve(__dirname, '../../..');

class UsageError extends Error {
  readonly code = 'SOAK_USAGE';
}

interface Options {
  durationSeconds: number;
  tenants: number;
  workers: number;
  connections: number;
  rate: number;
  variants: ('warm' | 'churn')[];
  churnPool: number;
  seed: number;
  quick: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      quick: { type: 'boolean', default: false },
      tenants: { type: 'string', default: '200' },
      workers: { type: 'string', default: String(os.cpus().length) },
      connections: { type: 'string', default: '32' },
      rate: { type: 'string', default: '0' },
      variant: { type: 'string', default: 'both' },
      pool: { type: 'string' },
      seed: { type: 'string', default: '1' },
    },
  });
  const int = (flag: string, raw: string | undefined, min: number, max: number): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new UsageError(`bench/soak: --${flag} expects an integer from ${min} to ${max}, got '${raw}'`);
    return n;
  };
  const quick = values.quick ?? false;
  const tenants = int('tenants', values.tenants, 8, 100_000);
  const variant = values.variant ?? 'both';
  if (!['warm', 'churn', 'both'].includes(variant))
    throw new UsageError(`bench/soak: --variant expects warm, churn or both, got '${variant}'`);
  return {
    // 150 s by default: 200 fresh isolates take ~80 s to grow into their working heaps, so the
    // RSS slope is read over a second half (75-150 s) that starts after that, not during it
    durationSeconds: int('duration', values.duration ?? (quick ? '15' : '150'), 5, 86_400),
    tenants,
    workers: int('workers', values.workers, 0, 64),
    connections: int('connections', values.connections, 1, 4096),
    rate: int('rate', values.rate, 0, 1_000_000),
    variants: variant === 'both' ? ['warm', 'churn'] : [variant as 'warm' | 'churn'],
    // an eighth of the tenants: below the hot set (a fifth), so even hot tenants are evicted now and then
    churnPool: int('pool', values.pool ?? String(Math.max(4, Math.round(tenants / 8))), 1, 1_000_000),
    seed: int('seed', values.seed, 0, 2 ** 31),
    quick,
  };
}

async function admin(islet: IsletServer, method: string, route: string, body?: unknown): Promise<unknown> {
  const res = await request(`http://127.0.0.1:${islet.adminPort}${route}`, {
    method,
    headers: { authorization: `Bearer ${islet.token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    timeoutMs: 30_000,
  });
  if (res.status >= 300)
    throw new Error(`${method} ${route} answered ${res.status}: ${res.body.toString('utf8', 0, 400)}`);
  return res.body.length ? JSON.parse(res.body.toString('utf8')) : null;
}

/** Hogs get a small CPU limit first (so each cut costs little), then every tenant is deployed. */
async function deployAll(islet: IsletServer, tenants: TenantSpec[], upstream: Upstream): Promise<number> {
  const started = performance.now();
  for (const t of tenants.filter((t) => t.kind === 'hog'))
    await admin(islet, 'PUT', `/v1/tenants/${t.name}`, { limits: { cpuMs: HOG_CPU_MS } });
  let next = 0;
  const deployer = async () => {
    while (next < tenants.length) {
      const t = tenants[next++];
      await islet.deploy(t.name, moduleSource(t, upstream.url));
    }
  };
  await Promise.all(Array.from({ length: 4 }, deployer));
  return (performance.now() - started) / 1000;
}

/** Runs the load generator process; `onTick` sees its per-second lines as they come. */
function runLoad(plan: LoadPlan, onTick: (tick: Tick) => void): Promise<LoadOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'loadgen-child.js'), JSON.stringify(plan)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffered = '';
    let stderr = '';
    let outcome: LoadOutcome | null = null;
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const msg = JSON.parse(line) as Tick | LoadOutcome;
        if (msg.type === 'tick') onTick(msg);
        else outcome = msg;
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-4000)));
    const limit = setTimeout(() => child.kill('SIGKILL'), (plan.durationSeconds + 60) * 1000);
    child.on('exit', (code, signal) => {
      clearTimeout(limit);
      if (outcome) resolve(outcome);
      else reject(new Error(`the soak load generator exited (${code ?? signal}) without a result:\n${stderr}`));
    });
  });
}

async function runVariant(
  name: 'warm' | 'churn',
  opts: Options,
  ctx: { tmpDir: string; dataDir: string; upstream: Upstream; tenants: TenantSpec[]; deploy: boolean },
): Promise<VariantResult> {
  const pool = name === 'churn' ? opts.churnPool : null;
  const env: Record<string, string> = { ISLET_DATA_DIR: ctx.dataDir };
  if (pool !== null) env.ISLET_POOL_MAX_ISOLATES = String(pool);
  const islet = await startIslet(
    { repoRoot: root, tmpDir: ctx.tmpDir, upstreamUrl: ctx.upstream.url },
    `islet-soak-${name}`,
    { workers: opts.workers, env },
  );
  try {
    if (ctx.deploy) {
      const seconds = await deployAll(islet, ctx.tenants, ctx.upstream);
      console.log(`  deployed ${ctx.tenants.length} tenants through the admin API in ${seconds.toFixed(1)} s`);
    } else {
      const listed = (await admin(islet, 'GET', '/v1/tenants')) as { tenants: unknown[] };
      if (listed.tenants.length !== ctx.tenants.length)
        throw new Error(`expected the ${ctx.tenants.length} stored tenants, the server lists ${listed.tenants.length}`);
    }
    const adminUrl = `http://127.0.0.1:${islet.adminPort}`;
    let before = countsOf(await scrapeMetrics(adminUrl, islet.token));
    const sampler = new RssSampler(islet.proc.pid);
    sampler.start(1000);
    // live isolates and where memory sits, over time beside RSS: growth that follows the isolate
    // count is the pool filling, growth without it is a leak, and the breakdown says whose
    // (every 5 s: a scrape is not free for the workers)
    const memory: MemorySample[] = [];
    const sampleMemory = async () => {
      try {
        const t = sampler.elapsed();
        memory.push({ t, ...memoryOf(await scrapeMetrics(adminUrl, islet.token)) });
      } catch {
        // a scrape that failed under load leaves a gap in this series; the load's errors tell the rest
      }
    };
    const memoryTimer = setInterval(() => void sampleMemory(), 5000);
    let warmup: WarmupResult | null = null;
    if (name === 'warm') {
      warmup = await touchEveryTenant(
        `http://127.0.0.1:${islet.port}`,
        'localhost',
        ctx.tenants,
        opts.workers ? 4 * opts.workers : 1,
      );
      // what islet counts from here on is the measured load's
      const afterWarmup = countsOf(await scrapeMetrics(adminUrl, islet.token));
      warmup.coldStarts = afterWarmup.coldStarts - before.coldStarts;
      before = afterWarmup;
      console.log(
        `  first touches: ${warmup.touchesPerTenant} per tenant, ${warmup.ok}/${warmup.tenants * warmup.touchesPerTenant} answered correctly in ${warmup.seconds} s (p50 ${warmup.latencyMs.p50} ms, p99 ${warmup.latencyMs.p99} ms), ${warmup.coldStarts} cold starts`,
      );
    }
    ctx.upstream.reset();
    const kindOf = (tenant: string) => ctx.tenants.find((t) => t.name === tenant)?.kind;
    const heapAtStart = heapByKind(await scrapeMetrics(adminUrl, islet.token), kindOf);
    const loadFrom = sampler.elapsed();
    const ticks: Tick[] = [];
    const calm = ctx.tenants.filter((t) => t.kind !== 'hog').length;
    const plan: LoadPlan = {
      origin: `http://127.0.0.1:${islet.port}`,
      baseDomain: 'localhost',
      tenants: ctx.tenants,
      hot: Math.max(1, Math.round(calm / 5)),
      hotShare: 0.8,
      hogShare: 0.01,
      connections: opts.connections,
      durationSeconds: opts.durationSeconds,
      rate: opts.rate,
      maxSessionRequests: 48,
      seed: opts.seed,
    };
    const load = await runLoad(plan, (tick) => {
      ticks.push(tick);
      if (ticks.length % 10 === 0) {
        const last = sampler.sample();
        const live = memory[memory.length - 1]?.isolates ?? '?';
        console.log(
          `  ${String(tick.t).padStart(4)} s  ${tick.ok + tick.limit + tick.errors} req/s  p99 ${tick.p99} ms  errors ${tick.errors}  RSS ${last.totalMB} MB in ${last.processes} processes, ${live} isolates`,
        );
      }
    });
    clearInterval(memoryTimer);
    const rss = sampler.stop(loadFrom);
    // waitUntil work runs after its response: give the last beacons a moment to arrive
    await sleep(2000);
    const serverAlive = islet.proc.alive();
    const finalScrape = serverAlive ? await scrapeMetrics(adminUrl, islet.token) : '';
    const after = serverAlive ? countsOf(finalScrape) : before;
    const heapAtEnd = heapByKind(finalScrape, kindOf);
    const beacons = ctx.upstream.beacons();
    const lost = Math.max(0, load.timersOk - beacons);
    const errors = load.errors + lost + (warmup?.errors.length ?? 0) + (serverAlive ? 0 : 1);
    const result: VariantResult = {
      name,
      describe:
        name === 'warm'
          ? `default pool (every tenant cold once, then warm), ${opts.workers ? `${opts.workers} workers` : 'one process'}`
          : `pool bound ${pool} isolates${opts.workers ? ' per worker' : ''} for ${ctx.tenants.length} tenants (evictions and cold starts all along), ${opts.workers ? `${opts.workers} workers` : 'one process'}`,
      poolMaxIsolates: pool,
      workers: opts.workers,
      load,
      warmup,
      ticks,
      rss,
      memory,
      memoryTrend: memoryTrend(memory, rss.loadFromT, rss.loadToT),
      heapByKind: { atLoadStart: heapAtStart, atEnd: heapAtEnd },
      islet: countsBetween(before, after),
      waitUntil: { timersOk: load.timersOk, beacons, lost },
      errors,
      serverAlive,
    };
    if (errors > 0 || rss.verdict === 'growing') result.serverOutput = islet.proc.output().slice(-3000);
    return result;
  } finally {
    await islet.proc.stop();
  }
}

function uncommittedServerFiles(): string[] | null {
  try {
    const out = execFileSync(
      'git',
      ['status', '--porcelain', '--', 'server', 'native', 'runtime-shims', 'config', 'bin'],
      { cwd: root, encoding: 'utf8' },
    );
    return out
      .split('\n')
      .filter(Boolean)
      .map((line) => line.slice(3));
  } catch {
    return null; // not a git checkout
  }
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  if (!fs.existsSync(path.join(root, 'dist/server/cli/serve.js')))
    throw new Error('bench/soak: islet is not built (dist/server/cli/serve.js is missing): run npm run build');
  const hogs = Math.max(2, Math.round(opts.tenants * 0.02));
  const tenants = planTenants(opts.tenants, hogs);
  const byKind: Record<string, number> = {};
  for (const t of tenants) byKind[t.kind] = (byKind[t.kind] ?? 0) + 1;
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-soak-'));
  const dataDir = fs.mkdtempSync(path.join(tmpDir, 'data-'));
  const upstream = await startUpstream();
  console.log(
    `bench/soak: ${opts.tenants} tenants (${Object.entries(byKind)
      .map(([k, n]) => `${n} ${k}`)
      .join(
        ', ',
      )}), ${opts.workers ? `${opts.workers} workers` : 'one process'}, ${opts.connections} connections${opts.rate ? ` at ${opts.rate} req/s` : ' (closed loop)'}, ${opts.durationSeconds} s per variant (${opts.variants.join(', ')}); ${os.cpus().length} CPUs, load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const variants: VariantResult[] = [];
  // a variant whose server could not start or run is reported, and the others still run
  const failed: { name: string; error: string }[] = [];
  let deployed = false;
  try {
    for (const name of opts.variants) {
      console.log(`\n${name}:`);
      try {
        variants.push(await runVariant(name, opts, { tmpDir, dataDir, upstream, tenants, deploy: !deployed }));
        deployed = true;
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        failed.push({ name, error });
        console.error(`  ${name} FAILED: ${error}`);
      }
    }
  } finally {
    await upstream.close();
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
  printReport(variants);

  const results = {
    date: new Date().toISOString(),
    machine: machineInfo(root),
    // the server under soak is whatever dist/ holds: say when it was built from uncommitted work
    uncommittedServerFiles: uncommittedServerFiles(),
    loadAverageAtEnd: os.loadavg(),
    isolateLibrary: (process.env.NODE_OPTIONS ?? '').includes('reference-isolate')
      ? 'reference (isolated-vm)'
      : 'native/',
    options: opts,
    tenants: { count: tenants.length, byKind, hogCpuLimitMs: HOG_CPU_MS },
    variants,
    failedVariants: failed,
  };
  const out = path.join(root, 'bench', 'results', 'soak.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
  console.log(`\nwrote ${path.relative(root, out)}`);

  const failures = [
    ...failed.map((f) => `${f.name}: did not run (${f.error.split('\n')[0]})`),
    ...variants.flatMap((v) => [
      ...(v.errors > 0 ? [`${v.name}: ${v.errors} errors`] : []),
      ...(v.serverAlive ? [] : [`${v.name}: the server died`]),
      ...(v.rss.verdict === 'growing'
        ? [`${v.name}: RSS kept growing (${v.rss.secondHalfSlopeMBPerMin} MB/min over the second half)`]
        : []),
    ]),
  ];
  if (failures.length) {
    console.error(`bench/soak FAILED: ${failures.join('; ')}`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err instanceof UsageError ? err.message : err);
  process.exit(err instanceof UsageError ? 2 : 1);
});
