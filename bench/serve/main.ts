// bench/serve: what serving costs.
//   1. hello-world throughput and latency through islet vs bare node:http serving the same bytes
//      (and hono's node adapter, the alternative front considered; and islet's front alone, a
//      diagnostic), each server in its own process, load from autocannon in another process
//      (bench/lib/loadgen);
//   2. cold start p50/p99 of a ~100 KB and a ~1 MB deployment, with and without code cache;
//   3. memory per idle tenant with 1,000 tenants warm.
// Usage: npm run bench -- serve  (or node --no-node-snapshot dist/bench/serve/main.js [--quick] [--throughput])
// Prints a report and writes bench/results/serve.json.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { runLoad, type LoadResult } from '../lib/loadgen';
import { startProcess, freePort, groupPids, type ServerProcess } from '../lib/proc';
import { waitForHttp } from '../lib/http';
import { median, round } from '../lib/stats';
import { measureColdStart, type ColdStartResult } from './coldstart';

const root = path.resolve(__dirname, '../../..');
const quick = process.argv.includes('--quick');
/** only the throughput comparison, results not written: for measuring a change to the hot path */
const throughputOnly = process.argv.includes('--throughput');
const load = { connections: 32, warmupSeconds: quick ? 1 : 2, durationSeconds: quick ? 3 : 6 };

async function server(name: string, args: string[], host: string, port: number): Promise<ServerProcess> {
  const proc = startProcess(name, process.execPath, args);
  await waitForHttp(`http://127.0.0.1:${port}/`, {
    headers: { host },
    isAlive: () => proc.alive(),
    timeoutMs: 60_000,
  }).catch(async (err) => {
    await proc.stop();
    throw new Error(`${name}: ${(err as Error).message}\n${proc.output()}`);
  });
  return proc;
}

/** CPU seconds (user + system) used so far by every process of the group `pgid`. */
function groupCpuSeconds(pgid: number): number {
  let ticks = 0;
  for (const pid of groupPids(pgid)) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(rest[11]) + Number(rest[12]); // utime, stime (fields 14 and 15)
    } catch {
      // gone
    }
  }
  return ticks / 100; // USER_HZ
}

interface System {
  label: string;
  args: string[];
  port: number;
}

/**
 * The machine is shared: its load changes from one second to the next. So every server runs
 * the same number of rounds, interleaved (A B C A B C ...), and the ratio is taken per round
 * against the baseline's run of that round, then the median over rounds is reported.
 */
async function throughputRounds(
  systems: System[],
  rounds: number,
): Promise<{
  runs: Map<string, LoadResult[]>;
  ratios: Map<string, number[]>;
  rss: Map<string, number>;
  cpuUs: Map<string, number[]>;
}> {
  const procs = new Map<string, ServerProcess>();
  const runs = new Map<string, LoadResult[]>();
  const ratios = new Map<string, number[]>();
  const rss = new Map<string, number>();
  // CPU time per request: the server's CPU seconds over the run divided by the requests it
  // answered. Much less sensitive to the other load on the machine than requests per second
  // (approximate: the warm-up's requests are counted at the measured rate).
  const cpuUs = new Map<string, number[]>();
  try {
    for (const s of systems) procs.set(s.label, await server(s.label, s.args, 'hello.localhost', s.port));
    for (let round = 0; round < rounds; round++) {
      let base = 0;
      for (const s of systems) {
        const proc = procs.get(s.label)!;
        const cpuBefore = groupCpuSeconds(proc.pid);
        const result = await runLoad({
          url: `http://127.0.0.1:${s.port}/`,
          headers: { host: 'hello.localhost' },
          ...load,
        });
        const requests = result.requestsPerSecond * (load.warmupSeconds + load.durationSeconds);
        cpuUs.set(s.label, [...(cpuUs.get(s.label) ?? []), ((groupCpuSeconds(proc.pid) - cpuBefore) * 1e6) / requests]);
        if (result.non2xx + result.errors > 0)
          throw new Error(`${s.label}: ${result.non2xx} non-2xx answers and ${result.errors} errors under load`);
        runs.set(s.label, [...(runs.get(s.label) ?? []), result]);
        if (base === 0) base = result.requestsPerSecond;
        ratios.set(s.label, [...(ratios.get(s.label) ?? []), result.requestsPerSecond / base]);
      }
    }
    for (const s of systems) rss.set(s.label, procs.get(s.label)!.rssBytes());
  } finally {
    for (const proc of procs.values()) await proc.stop();
  }
  return { runs, ratios, rss, cpuUs };
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
  const [pNode, pHono, pIslet, pFront] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-bench-serve-'));
  const frontDir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-bench-front-'));

  const rounds = quick ? 2 : 5;
  console.log(
    `bench/serve: ${load.connections} connections, ${load.warmupSeconds}s warm-up + ${load.durationSeconds}s measured per run, ${rounds} interleaved rounds, ${os.cpus().length} CPUs, load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const systems: System[] = [
    {
      label: 'node:http (baseline)',
      args: [path.join(dist, 'baseline-server.js'), String(pNode), 'node'],
      port: pNode,
    },
    { label: 'hono node adapter', args: [path.join(dist, 'baseline-server.js'), String(pHono), 'hono'], port: pHono },
    {
      label: 'islet (functions/hello)',
      args: ['--no-node-snapshot', path.join(dist, 'islet-server.js'), String(pIslet), dataDir],
      port: pIslet,
    },
    {
      label: 'islet front only (diagnostic)',
      args: ['--no-node-snapshot', path.join(dist, 'islet-server.js'), String(pFront), frontDir, 'front-only'],
      port: pFront,
    },
  ];
  const { runs, ratios, rss, cpuUs } = await throughputRounds(systems, rounds);
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(frontDir, { recursive: true, force: true });
  const summary = systems.map((s) => {
    const rs = runs.get(s.label)!;
    return {
      label: s.label,
      requestsPerSecond: median(rs.map((r) => r.requestsPerSecond)),
      ratio: median(ratios.get(s.label)!),
      ratios: ratios.get(s.label)!.map((r) => round(r, 3)),
      latencyMs: {
        p50: median(rs.map((r) => r.latencyMs.p50)),
        p90: median(rs.map((r) => r.latencyMs.p90)),
        p99: median(rs.map((r) => r.latencyMs.p99)),
      },
      rssBytes: rss.get(s.label)!,
      cpuUsPerRequest: median(cpuUs.get(s.label)!),
    };
  });
  console.log(
    '\nhello world (medians over rounds)  req/s     p50       p90       p99    CPU/req  ratio to node:http (per round)  CPU ratio',
  );
  const baseCpu = summary[0]!.cpuUsPerRequest;
  for (const r of summary) {
    console.log(
      `${r.label.padEnd(32)} ${String(Math.round(r.requestsPerSecond)).padStart(7)}  ${ms(r.latencyMs.p50).padStart(8)}  ${ms(r.latencyMs.p90).padStart(8)}  ${ms(r.latencyMs.p99).padStart(8)}  ${`${round(r.cpuUsPerRequest, 1)} us`.padStart(8)}  ${round(r.ratio, 3)} (${r.ratios.join(', ')})  ${round(baseCpu / r.cpuUsPerRequest, 3)}`,
    );
  }

  if (throughputOnly) return;
  const cold: ColdStartResult[] = [];
  for (const size of [100 * 1024, 1024 * 1024]) {
    for (const cache of [true, false])
      cold.push(await measureColdStart(size, cache, quick ? 20 : size > 200_000 ? 40 : 100));
  }
  console.log('\ncold start (isolate + sandbox + modules + evaluate)   p50        p99');
  for (const c of cold)
    console.log(
      `${`${Math.round(c.sizeBytes / 1024)} KB, ${c.cache ? 'with' : 'without'} code cache`.padEnd(52)} ${ms(c.p50Ms).padStart(9)}  ${ms(c.p99Ms).padStart(9)}`,
    );

  const tenants = quick ? 200 : 1000;
  const memory = await memoryPerTenant(tenants);
  console.log(
    `\nmemory with ${memory.tenants} tenants warm (${memory.ok} answered 200, ${memory.warmIsolates} isolates): ${round(memory.rssPerTenantBytes! / 1048576, 3)} MB RSS per idle tenant, ${round(memory.isolateHeapPerTenantBytes! / 1048576, 3)} MB isolate heap per tenant`,
  );

  const results = {
    date: new Date().toISOString(),
    quick,
    cpus: os.cpus().length,
    loadAverageAtEnd: os.loadavg(),
    isolateLibrary: require.resolve('../../native').includes('isolated-vm') ? 'reference (isolated-vm)' : 'native/',
    node: process.version,
    load,
    throughput: { rounds, systems: summary, runs: Object.fromEntries(runs) },
    coldStart: cold,
    memory,
  };
  fs.mkdirSync(path.join(root, 'bench', 'results'), { recursive: true });
  fs.writeFileSync(
    path.join(root, 'bench', 'results', quick ? 'serve-quick.json' : 'serve.json'),
    JSON.stringify(results, null, 2) + '\n',
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
