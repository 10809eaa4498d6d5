// bench/tracing: what tracing and CPU profiles cost a serving islet (issue 22's closing note).
//
// 1. Tracing: three `islet serve` processes side by side, the same hello-world tenant, tracing
//    off / on and sampled at 0 / on and sampled at 1 (every span exported over OTLP/HTTP to a sink
//    in this process, answering 200 as a collector does). Each is driven in turn by the same load
//    generator (bench/lib/loadgen.ts, a process of its own) and charged the CPU time (user + system,
//    from /proc) its process group used, divided by the requests it answered: CPU per request.
//    Rounds alternate the three, so a change in the machine's load falls on all of them.
// 2. Profiles: one server (tracing off), a "hot" tenant that spends ~0.3 ms of CPU per request;
//    throughput and CPU per request with no profile, then while POST /v1/tenants/hot/profile
//    samples it for the whole measured phase, alternated over the rounds.
// Medians of the rounds. The shared machine's load is printed beside the numbers: read ratios.
// Run: npm run build && npm run bench -- tracing   (or node dist/bench/tracing/main.js [--quick] [--json])
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { request, waitForHttp } from '../lib/http';
import { runLoad } from '../lib/loadgen';
import { freePorts, groupPids, type ServerProcess, startProcess } from '../lib/proc';
import { median, round } from '../lib/stats';

const repoRoot = path.resolve(__dirname, '../../..');
const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 2 : 3;
const SECONDS = quick ? 3 : 5;
const CONNECTIONS = 4;
const TOKEN = 'bench-tracing-token';
const TICK_US = 1e6 / 100; // /proc's clock ticks (USER_HZ 100 on Linux)

const hello = `export default { fetch() { return new Response('hello world'); } };\n`;
const hot = `function work(n) {
  let total = 0;
  for (let i = 0; i < n; i++) total += Math.sqrt(i) * Math.sin(i);
  return total;
}
export default { fetch() { return new Response(String(work(20000))); } };
`;

/** user + system CPU of every process in the group, µs */
function groupCpuUs(pgid: number): number {
  let ticks = 0;
  for (const pid of groupPids(pgid)) {
    try {
      const rest = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = rest.slice(rest.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // gone
    }
  }
  return ticks * TICK_US;
}

interface Server {
  name: string;
  proc: ServerProcess;
  port: number;
  adminPort: number;
  dataDir: string;
}

async function startIslet(name: string, functions: string, env: Record<string, string>): Promise<Server> {
  const [port, adminPort] = await freePorts(2);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `islet-bench-tracing-${name}-`));
  const proc = startProcess(
    name,
    process.execPath,
    ['--no-node-snapshot', path.join(repoRoot, 'bin', 'islet.js'), 'serve', '--functions', functions],
    {
      env: {
        PATH: process.env.PATH,
        ISLET_PORT: String(port),
        ISLET_HOST: '127.0.0.1',
        ISLET_ADMIN_PORT: String(adminPort),
        ISLET_DATA_DIR: dataDir,
        ISLET_ADMIN_TOKEN: TOKEN,
        ISLET_LOG_REQUESTS: 'false',
        ISLET_LOG_LEVEL: 'warn',
        ...env,
      },
    },
  );
  await waitForHttp(`http://127.0.0.1:${port}/`, { headers: { host: 'hello.localhost' }, isAlive: proc.alive });
  return { name, proc, port, adminPort, dataDir };
}

async function measure(server: Server, tenant: string): Promise<{ rps: number; cpuUsPerRequest: number }> {
  const url = `http://127.0.0.1:${server.port}/`;
  const headers = { host: `${tenant}.localhost` };
  const before = groupCpuUs(server.proc.pid);
  const result = await runLoad({ url, headers, connections: CONNECTIONS, warmupSeconds: 0, durationSeconds: SECONDS });
  const used = groupCpuUs(server.proc.pid) - before;
  if (result.non2xx || result.errors) throw new Error(`${server.name}: ${JSON.stringify(result.statusCodes)}`);
  return { rps: result.requestsPerSecond, cpuUsPerRequest: used / result.ok };
}

async function warm(server: Server, tenant: string): Promise<void> {
  const url = `http://127.0.0.1:${server.port}/`;
  await runLoad({
    url,
    headers: { host: `${tenant}.localhost` },
    connections: CONNECTIONS,
    warmupSeconds: 0,
    durationSeconds: 1,
  });
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-bench-tracing-'));
  for (const [name, code] of Object.entries({ hello, hot })) {
    fs.mkdirSync(path.join(dir, 'functions', name), { recursive: true });
    fs.writeFileSync(path.join(dir, 'functions', name, 'index.js'), code);
  }
  const functions = path.join(dir, 'functions');
  // the collector: takes every export and answers 200, as the OpenTelemetry collector does
  let exported = 0;
  const sink = http.createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      exported += bytes;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(sink.address() as { port: number }).port}`;
  const servers: Server[] = [];
  try {
    servers.push(await startIslet('tracing off', functions, {}));
    servers.push(
      await startIslet('sampled 0', functions, {
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        ISLET_TRACE_SAMPLE_RATIO: '0',
      }),
    );
    servers.push(
      await startIslet('sampled 1', functions, {
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        ISLET_TRACE_SAMPLE_RATIO: '1',
      }),
    );
    for (const s of servers) await warm(s, 'hello');
    const tracing = new Map<string, { rps: number[]; cpu: number[] }>(
      servers.map((s) => [s.name, { rps: [], cpu: [] }]),
    );
    for (let r = 0; r < ROUNDS; r++) {
      for (const s of servers) {
        const m = await measure(s, 'hello');
        tracing.get(s.name)!.rps.push(m.rps);
        tracing.get(s.name)!.cpu.push(m.cpuUsPerRequest);
      }
    }
    const load1 = os.loadavg()[0];

    // profiles: the hot tenant of the untraced server, with and without a running profile
    const server = servers[0]!;
    await warm(server, 'hot');
    const profile = {
      without: { rps: [] as number[], cpu: [] as number[] },
      with: { rps: [] as number[], cpu: [] as number[] },
    };
    let profileBytes = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const m0 = await measure(server, 'hot');
      profile.without.rps.push(m0.rps);
      profile.without.cpu.push(m0.cpuUsPerRequest);
      const answer = request(`http://127.0.0.1:${server.adminPort}/v1/tenants/hot/profile?seconds=${SECONDS + 1}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
        timeoutMs: (SECONDS + 30) * 1000,
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const m1 = await measure(server, 'hot');
      const res = await answer;
      if (res.status !== 200) throw new Error(`profile: ${res.status} ${res.body.toString('utf8', 0, 300)}`);
      profileBytes = res.body.length;
      profile.with.rps.push(m1.rps);
      profile.with.cpu.push(m1.cpuUsPerRequest);
    }
    const results = {
      rounds: ROUNDS,
      secondsPerRun: SECONDS,
      connections: CONNECTIONS,
      loadAverage1m: round(load1, 2),
      loadAverageEnd: round(os.loadavg()[0], 2),
      tracing: Object.fromEntries(
        [...tracing].map(([name, v]) => [
          name,
          { rps: round(median(v.rps), 0), cpuUsPerRequest: round(median(v.cpu), 1) },
        ]),
      ),
      exportedBytes: exported,
      profile: {
        without: { rps: round(median(profile.without.rps), 0), cpuUsPerRequest: round(median(profile.without.cpu), 1) },
        with: { rps: round(median(profile.with.rps), 0), cpuUsPerRequest: round(median(profile.with.cpu), 1) },
        profileBytes,
      },
    };
    if (process.argv.includes('--json')) console.log(JSON.stringify(results));
    else {
      const base = results.tracing['tracing off']!.cpuUsPerRequest;
      console.log(
        `tracing (hello world, ${CONNECTIONS} connections, ${ROUNDS} rounds x ${SECONDS} s, load ${results.loadAverage1m}):`,
      );
      for (const [name, v] of Object.entries(results.tracing))
        console.log(
          `  ${name.padEnd(12)} ${String(v.rps).padStart(6)} req/s  ${String(v.cpuUsPerRequest).padStart(6)} µs CPU/request  (${round(v.cpuUsPerRequest / base, 2)}x)`,
        );
      const p = results.profile;
      console.log(`profile (hot tenant, load ${results.loadAverageEnd}):`);
      console.log(
        `  without      ${String(p.without.rps).padStart(6)} req/s  ${String(p.without.cpuUsPerRequest).padStart(6)} µs CPU/request`,
      );
      console.log(
        `  profiling    ${String(p.with.rps).padStart(6)} req/s  ${String(p.with.cpuUsPerRequest).padStart(6)} µs CPU/request  (throughput ${round(p.with.rps / p.without.rps, 2)}x; profile ${p.profileBytes} bytes)`,
      );
    }
    fs.mkdirSync(path.join(repoRoot, 'bench', 'results'), { recursive: true });
    fs.writeFileSync(path.join(repoRoot, 'bench', 'results', 'tracing.json'), `${JSON.stringify(results, null, 2)}\n`);
  } finally {
    for (const s of servers) {
      await s.proc.stop();
      fs.rmSync(s.dataDir, { recursive: true, force: true });
    }
    sink.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
