// Cold start of one tenant isolate, as the pool does it: new Isolate (tenant memory limit, from
// the bootstrap snapshot or not) -> createSandbox (shim bootstrap) -> compile the deployment's
// modules (with or without the code cache stored beside it) -> link -> evaluate -> bind the fetch
// handler, then its first request answered. Measured in this process, one start at a time, for a
// ~100 KB and a ~1 MB deployment; `compareBootstrap` alternates snapshot and code-cache starts.
import { bootstrapSnapshot, createTenantIsolate, snapshotState } from '../../server/host/bootstrap-snapshot';
import { isolateApi } from '../../server/host/isolate-api';
import { loadDeployment, type ModuleSource } from '../../server/tenants/loader';
import { defaultCreateSandbox } from '../../server/tenants/sandbox-api';
import type { DeploymentManifest } from '../../server/store/types';
import { percentileSorted } from '../lib/stats';

/** An ES module of about `bytes` bytes: a handler plus many small functions it may call. */
export function syntheticModule(bytes: number): string {
  const parts = [
    "export default { fetch(request) { return new Response('ok ' + table.length); } };",
    'const table = [',
  ];
  let size = parts[0]!.length;
  for (let i = 0; size < bytes; i++) {
    const fn = `  function f${i}(a, b) { const s = 'value-${i}-' + a; return s.length > ${i % 97} ? s + b : b * ${i}; },\n`;
    parts.push(fn);
    size += fn.length;
  }
  parts.push('];');
  return parts.join('\n');
}

export interface ColdStartResult {
  sizeBytes: number;
  cache: boolean;
  /** whether the isolates started from the bootstrap snapshot */
  snapshot: boolean;
  runs: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  /** new isolate until the first request's body is read */
  firstRequestP50Ms: number;
  /** process CPU (user + system) per start including the first request: steadier than time on a busy machine */
  cpuP50Ms: number;
}

type Start = () => Promise<{ ms: number; firstMs: number; cpuMs: number }>;

function starter(sizeBytes: number, cache: boolean, snapshot: boolean): { start: Start; size: number } {
  const code = Buffer.from(syntheticModule(sizeBytes));
  const manifest: DeploymentManifest = {
    id: 'bench',
    tenant: 'bench',
    hash: 'bench',
    createdAt: new Date().toISOString(),
    format: 'modules',
    entry: 'index.js',
    modules: [{ path: 'index.js', size: code.length, sha256: '' }],
    routes: [],
    warnings: [],
    size: code.length,
  };
  let stored: Buffer | null = null;
  const source: ModuleSource = {
    read: async () => code,
    readCache: async () => (cache ? stored : null),
    writeCache: (_p, data) => {
      stored = data;
    },
  };
  const { Isolate } = isolateApi();
  const createSandbox = defaultCreateSandbox();
  const options = {
    tenant: 'bench',
    deployment: 'bench',
    env: {},
    limits: undefined as never,
    egress: { allow: [] },
    log: () => {},
  };
  const limits = {
    cpuMs: 50,
    wallMs: 30_000,
    requestBodyBytes: 1 << 20,
    responseBodyBytes: 1 << 20,
    subrequests: 50,
    subrequestTimeoutMs: 1000,
    subrequestResponseBytes: 1 << 20,
    logBytes: 65536,
  };
  options.limits = limits as never;
  const request = { id: 'first', method: 'GET', url: 'http://bench.test/', headers: ['accept', '*/*'], body: null };
  const start: Start = async () => {
    const cpu = process.cpuUsage();
    const began = process.hrtime.bigint();
    const isolate = snapshot ? createTenantIsolate({ memoryLimit: 128 }) : new Isolate({ memoryLimit: 128 });
    const sandbox = await createSandbox(isolate, options);
    await loadDeployment(isolate, sandbox, manifest, source, { startupTimeoutMs: 5000 });
    const ms = Number(process.hrtime.bigint() - began) / 1e6;
    const dispatch = sandbox.dispatch(request);
    const response = dispatch.sync?.response ?? (await dispatch.response);
    if (response.status !== 200) throw new Error(`the first request answered ${response.status}`);
    if (!dispatch.sync) await dispatch.done;
    const firstMs = Number(process.hrtime.bigint() - began) / 1e6;
    const used = process.cpuUsage(cpu);
    sandbox.dispose();
    isolate.dispose();
    return { ms, firstMs, cpuMs: (used.user + used.system) / 1000 };
  };
  return { start, size: code.length };
}

function summarise(sizeBytes: number, cache: boolean, snapshot: boolean, samples: Awaited<ReturnType<Start>>[]) {
  const sorted = (pick: (s: Awaited<ReturnType<Start>>) => number) => samples.map(pick).sort((a, b) => a - b);
  const times = sorted((s) => s.ms);
  return {
    sizeBytes,
    cache,
    snapshot,
    runs: samples.length,
    p50Ms: percentileSorted(times, 50),
    p99Ms: percentileSorted(times, 99),
    meanMs: times.reduce((a, b) => a + b, 0) / times.length,
    firstRequestP50Ms: percentileSorted(
      sorted((s) => s.firstMs),
      50,
    ),
    cpuP50Ms: percentileSorted(
      sorted((s) => s.cpuMs),
      50,
    ),
  };
}

/** isolates made as the pool makes them (createTenantIsolate: the snapshot when ISLET_BOOTSTRAP_SNAPSHOT=on) */
export async function measureColdStart(sizeBytes: number, cache: boolean, runs: number): Promise<ColdStartResult> {
  const { start, size } = starter(sizeBytes, cache, true);
  // warm-up: the first starts also fill the shim bootstrap's cache and, with `cache`, produce the deployment's
  for (let i = 0; i < 3; i++) await start();
  const samples = [];
  for (let i = 0; i < runs; i++) samples.push(await start());
  return summarise(size, cache, snapshotState().used, samples);
}

/**
 * Snapshot against code cache for the same deployment (its code cache on), starts alternating so
 * both see the same machine: [code cache, snapshot] results.
 */
export async function compareBootstrap(sizeBytes: number, runs: number): Promise<[ColdStartResult, ColdStartResult]> {
  // both paths ready before timing: the bootstrap's code cache warmed (by the first code-cache
  // start, before the snapshot exists: sandbox.ts skips the warm-up once isolates use the snapshot),
  // then the snapshot made or read
  const { start: warm } = starter(sizeBytes, true, false);
  await warm();
  process.env.ISLET_BOOTSTRAP_SNAPSHOT = 'on';
  if (!bootstrapSnapshot()) throw new Error('the bootstrap snapshot is not available in this process');
  const cacheOnly = starter(sizeBytes, true, false);
  const fromSnapshot = starter(sizeBytes, true, true);
  for (let i = 0; i < 3; i++) {
    await cacheOnly.start();
    await fromSnapshot.start();
  }
  const a = [];
  const b = [];
  for (let i = 0; i < runs; i++) {
    a.push(await cacheOnly.start());
    b.push(await fromSnapshot.start());
  }
  return [summarise(cacheOnly.size, true, false, a), summarise(fromSnapshot.size, true, true, b)];
}

// alone: node --no-node-snapshot dist/bench/serve/coldstart.js [runs]
if (require.main === module) {
  const runs = Number(process.argv[2] ?? 100);
  void compareBootstrap(100 * 1024, runs).then(([cache, snapshot]) => {
    for (const r of [cache, snapshot]) {
      console.log(
        `${r.snapshot ? 'snapshot  ' : 'code cache'} ${Math.round(r.sizeBytes / 1024)} KB: ` +
          `start p50 ${r.p50Ms.toFixed(2)} ms p99 ${r.p99Ms.toFixed(2)} ms, ` +
          `first request answered p50 ${r.firstRequestP50Ms.toFixed(2)} ms, ` +
          `CPU p50 ${r.cpuP50Ms.toFixed(2)} ms (${r.runs} runs)`,
      );
    }
    console.log(
      'ratio code cache / snapshot (> 1: snapshot faster): ' +
        `first request ${(cache.firstRequestP50Ms / snapshot.firstRequestP50Ms).toFixed(2)}x, ` +
        `CPU ${(cache.cpuP50Ms / snapshot.cpuP50Ms).toFixed(2)}x`,
    );
  });
}
