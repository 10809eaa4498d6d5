// Cold start. The systems start cold in different units, so each result says what it measures:
// - islet: a running server gets a new deployment (a new tenant each sample, so nothing warm is
//   reused); measured is the first request to it, sent on a fresh connection, until its full
//   response: isolate + context + shim bootstrap + module load + the request itself. "with code
//   cache" leaves the deployment's stored V8 code cache in place; "without" deletes it first.
// - workerd and node:http: a per-module cold start cannot be isolated from outside workerd, so
//   measured is a fresh process: spawn until the first successful response (polled every 2 ms
//   on fresh connections, so up to ~2 ms of polling granularity is included).
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { request, type HttpResponse } from '../lib/http';
import { freePort, sleep, startProcess } from '../lib/proc';
import { median, percentileSorted } from '../lib/stats';
import type { ColdStartResult } from './results';
import { startIslet } from './systems/islet';
import { workerdPackage, writeWorkerdConfig } from './systems/workerd';
import type { SystemContext } from './system';

export async function runColdStart(
  ctx: SystemContext,
  samples: number,
  log: (line: string) => void,
): Promise<ColdStartResult[]> {
  const results: ColdStartResult[] = [];
  for (const measure of [islet, workerdProcess, nodeProcess]) {
    try {
      const r = await measure(ctx, samples);
      results.push(...r);
      for (const one of r)
        log(`  cold start ${one.system}: median ${one.medianMs.toFixed(2)} ms${one.note ? ` (${one.note})` : ''}`);
    } catch (err) {
      const name = measure === islet ? 'islet' : measure === workerdProcess ? 'workerd' : 'node:http';
      log(`  cold start ${name}: ${(err as Error).message.split('\n')[0]}`);
      results.push({ system: name, measures: '', samplesMs: [], medianMs: Number.NaN, error: (err as Error).message });
    }
  }
  return results;
}

function summarize(system: string, measures: string, samplesMs: number[], note?: string): ColdStartResult {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return { system, measures, samplesMs, medianMs: median(samplesMs), p90Ms: percentileSorted(sorted, 90), note };
}

async function timedFirstRequest(
  url: string,
  headers: Record<string, string>,
): Promise<{ ms: number; res: HttpResponse }> {
  // A tenant deployed a moment ago may not be routable yet in every process: retry 404s (no
  // isolate is made for them) and time the request that reaches the tenant.
  for (let attempt = 0; attempt < 200; attempt++) {
    const t0 = performance.now();
    const res = await request(url, { headers });
    const ms = performance.now() - t0;
    if (res.status !== 404) return { ms, res };
    await sleep(10);
  }
  throw new Error(`${url} (${JSON.stringify(headers)}) still answers 404 two seconds after deployment`);
}

async function islet(ctx: SystemContext, samples: number): Promise<ColdStartResult[]> {
  const source = fs.readFileSync(path.join(ctx.repoRoot, 'bench/peers/workload/worker.mjs'));
  const server = await startIslet(ctx, 'islet-cold', {});
  const url = `http://127.0.0.1:${server.port}/hello`;
  let n = 0;
  /** Deploys a fresh tenant, optionally deletes its code cache, times its first request. */
  const sample = async (withCache: boolean): Promise<{ ms: number; cacheFound: boolean; warmMs: number }> => {
    const tenant = `cold-${n++}`;
    // A unique line per sample: no two samples share a deployment hash, so nothing compiled for
    // an earlier sample (in the store or in the process) can serve a later one.
    const { id } = await server.deploy(
      tenant,
      Buffer.concat([source, Buffer.from(`\n// cold-start sample ${tenant}\n`)]),
    );
    const cacheDir = path.join(server.dataDir, 'tenants', tenant, 'cache', id);
    const cacheFound = fs.existsSync(cacheDir);
    if (!withCache) fs.rmSync(cacheDir, { recursive: true, force: true });
    const headers = server.tenantHeaders(tenant);
    const first = await timedFirstRequest(url, headers);
    if (first.res.status !== 200)
      throw new Error(
        `first request to ${tenant} answered ${first.res.status}: ${first.res.body.toString('utf8', 0, 300)}`,
      );
    // The same request once warm, on a fresh connection too: what the cold part adds.
    const warmMs = (await timedFirstRequest(url, headers)).ms;
    return { ms: first.ms, cacheFound, warmMs };
  };
  try {
    // The server's own first-time paths (JIT, lazy requires) must not land on the first samples.
    for (let i = 0; i < 3; i++) await sample(i % 2 === 0);
    const cached: number[] = [];
    const uncached: number[] = [];
    const warm: number[] = [];
    let cachesFound = 0;
    // Alternate the two kinds so that drift of the shared machine touches both alike.
    for (let i = 0; i < samples; i++) {
      const c = await sample(true);
      cached.push(c.ms);
      warm.push(c.warmMs);
      if (c.cacheFound) cachesFound++;
      uncached.push((await sample(false)).ms);
    }
    const warmNote = `the same request to the now warm tenant takes ${median(warm).toFixed(2)} ms`;
    return [
      summarize(
        'islet (code cache)',
        'first request to a new deployment on a running server, fresh connection, stored code cache in place',
        cached,
        `${cachesFound}/${samples} deployments had a code cache on disk at their first request; ${warmNote}`,
      ),
      summarize(
        'islet (no code cache)',
        'first request to a new deployment on a running server, fresh connection, its stored code cache deleted before',
        uncached,
        warmNote,
      ),
    ];
  } finally {
    await server.proc.stop();
  }
}

async function processToFirstResponse(
  name: string,
  start: (port: number) => ReturnType<typeof startProcess>,
  port: number,
): Promise<number> {
  const t0 = performance.now();
  const proc = start(port);
  try {
    const deadline = t0 + 30_000;
    while (performance.now() < deadline) {
      if (!proc.alive()) throw new Error(`${name} exited before answering:\n${proc.output()}`);
      try {
        const res = await request(`http://127.0.0.1:${port}/hello`, { timeoutMs: 5000 });
        if (res.status === 200) return performance.now() - t0;
      } catch {
        // not listening yet
      }
      await sleep(2);
    }
    throw new Error(`${name} did not answer within 30 s`);
  } finally {
    await proc.stop();
  }
}

async function workerdProcess(ctx: SystemContext, samples: number): Promise<ColdStartResult[]> {
  const bin = workerdPackage().default;
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(ctx.tmpDir, 'workerd-cold-'));
    const config = writeWorkerdConfig(dir, ctx.repoRoot, [port]);
    times.push(
      await processToFirstResponse(
        'workerd',
        () => startProcess('workerd-cold', bin, ['serve', config], { cwd: dir }),
        port,
      ),
    );
  }
  return [
    summarize('workerd (process)', 'fresh workerd process: spawn until the first 200 response of the worker', times),
  ];
}

async function nodeProcess(ctx: SystemContext, samples: number): Promise<ColdStartResult[]> {
  const times: number[] = [];
  const script = path.join(__dirname, 'node-server.js');
  for (let i = 0; i < samples; i++) {
    const port = await freePort();
    times.push(
      await processToFirstResponse(
        'node:http',
        (p) => startProcess('node-cold', process.execPath, [script, String(p)], { cwd: ctx.repoRoot }),
        port,
      ),
    );
  }
  return [
    summarize(
      'node:http (process)',
      'fresh node process running the baseline: spawn until the first 200 response',
      times,
    ),
  ];
}
