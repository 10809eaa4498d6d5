// bench/serve: what serving costs.
//   1. hello-world throughput and latency through islet vs bare node:http serving the same bytes
//      (and hono's node adapter, the alternative front considered), each server in its own
//      process, load from autocannon in a third process (bench/lib/loadgen);
//   2. cold start p50/p99 of a ~100 KB and a ~1 MB deployment, with and without code cache;
//   3. memory per idle tenant with 1,000 tenants warm.
// Usage: node --no-node-snapshot dist/bench/serve/main.js [--quick]
// Prints a report and writes bench/results/serve.json.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { runLoad, type LoadResult } from '../lib/loadgen';
import { startProcess, freePort, type ServerProcess } from '../lib/proc';
import { waitForHttp } from '../lib/http';
import { round } from '../lib/stats';
import { measureColdStart, type ColdStartResult } from './coldstart';

const root = path.resolve(__dirname, '../../..');
const quick = process.argv.includes('--quick');
const load = { connections: 32, warmupSeconds: quick ? 1 : 3, durationSeconds: quick ? 3 : 10 };

async function server(name: string, args: string[], host: string, port: number): Promise<ServerProcess> {
  const proc = startProcess(name, process.execPath, args);
  await waitForHttp(`http://127.0.0.1:${port}/`, { headers: { host }, isAlive: () => proc.alive(), timeoutMs: 60_000 }).catch(async (err) => {
    await proc.stop();
    throw new Error(`${name}: ${(err as Error).message}\n${proc.output()}`);
  });
  return proc;
}

async function throughput(name: string, args: string[], host: string, port: number): Promise<LoadResult & { rssBytes: number }> {
  const proc = await server(name, args, host, port);
  try {
    const result = await runLoad({ url: `http://127.0.0.1:${port}/`, headers: { host }, ...load });
    return { ...result, rssBytes: proc.rssBytes() };
  } finally {
    await proc.stop();
  }
}

function memoryPerTenant(tenants: number): Promise<Record<string, number>> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-bench-mem-'));
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--no-node-snapshot', '--expose-gc', path.join(__dirname, 'memory-child.js'), String(tenants + 1), dataDir],
      { timeout: 600_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`memory benchmark failed: ${err.message}\n${stderr}`));
        try {
          resolve(JSON.parse(stdout.trim().split('\n').pop()!));
        } catch {
          reject(new Error(`memory benchmark printed no result:\n${stdout}\n${stderr}`));
        }
      },
    );
  });
}

const ms = (v: number) => `${round(v, 2)} ms`;

async function main(): Promise<void> {
  const dist = path.join(root, 'dist', 'bench', 'serve');
  const [pNode, pHono, pIslet] = [await freePort(), await freePort(), await freePort()];
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-bench-serve-'));

  console.log(`bench/serve: ${load.connections} connections, ${load.warmupSeconds}s warm-up + ${load.durationSeconds}s measured per server, ${os.cpus().length} CPUs`);
  const bare = await throughput('node:http', [path.join(dist, 'baseline-server.js'), String(pNode), 'node'], 'hello.localhost', pNode);
  const hono = await throughput('hono node adapter', [path.join(dist, 'baseline-server.js'), String(pHono), 'hono'], 'hello.localhost', pHono);
  const islet = await throughput('islet', ['--no-node-snapshot', path.join(dist, 'islet-server.js'), String(pIslet), dataDir], 'hello.localhost', pIslet);
  fs.rmSync(dataDir, { recursive: true, force: true });
  const rows = [
    ['node:http (baseline)', bare],
    ['hono node adapter', hono],
    ['islet (functions/hello)', islet],
  ] as const;
  console.log('\nhello world                 req/s     p50       p90       p99       non-2xx  ratio');
  for (const [label, r] of rows) {
    console.log(
      `${label.padEnd(26)} ${String(Math.round(r.requestsPerSecond)).padStart(7)}  ${ms(r.latencyMs.p50).padStart(8)}  ${ms(r.latencyMs.p90).padStart(8)}  ${ms(r.latencyMs.p99).padStart(8)}  ${String(r.non2xx + r.errors).padStart(7)}  ${round(r.requestsPerSecond / bare.requestsPerSecond, 3)}`,
    );
  }

  const cold: ColdStartResult[] = [];
  for (const size of [100 * 1024, 1024 * 1024]) {
    for (const cache of [true, false]) cold.push(await measureColdStart(size, cache, quick ? 20 : size > 200_000 ? 40 : 100));
  }
  console.log('\ncold start (isolate + sandbox + modules + evaluate)   p50        p99');
  for (const c of cold) console.log(`${`${Math.round(c.sizeBytes / 1024)} KB, ${c.cache ? 'with' : 'without'} code cache`.padEnd(52)} ${ms(c.p50Ms).padStart(9)}  ${ms(c.p99Ms).padStart(9)}`);

  const tenants = quick ? 200 : 1000;
  const memory = await memoryPerTenant(tenants);
  console.log(`\nmemory with ${memory.tenants} tenants warm (${memory.ok} answered 200, ${memory.warmIsolates} isolates): ${round(memory.rssPerTenantBytes! / 1048576, 3)} MB RSS per idle tenant, ${round(memory.isolateHeapPerTenantBytes! / 1048576, 3)} MB isolate heap per tenant`);

  const results = {
    date: new Date().toISOString(),
    quick,
    cpus: os.cpus().length,
    node: process.version,
    load,
    throughput: { node: bare, hono, islet, ratio: islet.requestsPerSecond / bare.requestsPerSecond, honoRatio: hono.requestsPerSecond / bare.requestsPerSecond },
    coldStart: cold,
    memory,
  };
  fs.mkdirSync(path.join(root, 'bench', 'results'), { recursive: true });
  fs.writeFileSync(path.join(root, 'bench', 'results', quick ? 'serve-quick.json' : 'serve.json'), JSON.stringify(results, null, 2) + '\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
