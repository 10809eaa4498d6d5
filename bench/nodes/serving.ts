// bench/nodes/serving: serving throughput and CPU per request of one `islet serve` node (no
// workers, so one process serves) on the PostgreSQL store against the same node on the file
// store, in the same run, in interleaved rounds (pg, file, file, pg, ...) so that drift of the
// shared machine falls on both alike. The store is not on the request path (a deployed tenant is
// served from the node's memory and cache), so the two should match: the ratio is the result.
// CPU per request is the node process's user + system time (/proc/<pid>/stat) over the measured
// phase divided by the 2xx responses of that phase. Skipped (with the reason) without PostgreSQL.
// Run: npm run build && node --no-node-snapshot dist/bench/nodes/serving.js [--quick] [--json]
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { PostgresCluster, needsPostgres } from '../../test/support/postgres';
import { deploy, hit, type IsletNode, startNode } from '../../test/server/islet-nodes';
import { runLoad } from '../lib/loadgen';
import { machineInfo } from '../lib/machine';
import { median, round } from '../lib/stats';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 2 : 6;
const SECONDS = quick ? 3 : 6;
const CONNECTIONS = 16;
const IDLE_SECONDS = quick ? 3 : 10;
const TENANT = 'hello';
const root = path.resolve(__dirname, '../../..');
const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

interface Round {
  store: string;
  requestsPerSecond: number;
  cpuUsPerRequest: number;
  p99Ms: number;
  failed: number;
}

/** user + system CPU seconds the process has used so far */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // after the command name: state(0) ... utime(11) stime(12), in clock ticks
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

async function measure(store: string, node: IsletNode): Promise<Round> {
  const pid = node.child.pid!;
  const url = `http://127.0.0.1:${node.port}/`;
  const headers = { host: `${TENANT}.localhost` };
  // a short warm-up of its own, then the measured phase with CPU read on both sides
  await runLoad({ url, headers, connections: CONNECTIONS, warmupSeconds: 0, durationSeconds: 1 });
  const before = cpuSeconds(pid);
  const result = await runLoad({ url, headers, connections: CONNECTIONS, warmupSeconds: 0, durationSeconds: SECONDS });
  const used = cpuSeconds(pid) - before;
  return {
    store,
    requestsPerSecond: Math.round(result.requestsPerSecond),
    cpuUsPerRequest: result.ok > 0 ? round((used * 1e6) / result.ok, 1) : Number.NaN,
    p99Ms: round(result.latencyMs.p99, 1),
    failed: result.non2xx + result.errors + result.timeouts,
  };
}

async function main(): Promise<void> {
  const skip = needsPostgres().skip;
  if (skip) {
    console.log(`nodes serving: skipped: ${skip}`);
    return;
  }
  const pg = await PostgresCluster.start({ durable: true });
  const nodes: IsletNode[] = [];
  try {
    // the default heartbeat (the test harness beats every 200 ms), as a production node runs
    const env = { ISLET_HEARTBEAT_MS: '2000' };
    const onPg = await startNode({ store: await pg.createDatabase(), name: 'serve-pg', env });
    nodes.push(onPg);
    const onFile = await startNode({ store: '', name: 'serve-file', env });
    nodes.push(onFile);
    const byStore: Record<string, IsletNode> = { postgres: onPg, file: onFile };
    for (const node of nodes) {
      await deploy(node, TENANT, 'export default { fetch() { return new Response("Hello, world!") } }');
      const reply = await hit(node, TENANT);
      if (reply.text !== 'Hello, world!') throw new Error(`${node.name} serves ${reply.status} ${reply.text}`);
    }
    // warm both nodes (JIT, isolate, connection pools) before any round counts
    for (const node of nodes)
      await runLoad({
        url: `http://127.0.0.1:${node.port}/`,
        headers: { host: `${TENANT}.localhost` },
        connections: CONNECTIONS,
        warmupSeconds: 0,
        durationSeconds: quick ? 2 : 4,
      });
    // background cost with no traffic (heartbeat, change feed, polls), both nodes idle at once
    const idleBefore = nodes.map((n) => cpuSeconds(n.child.pid!));
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const idleMsPerSecond = Object.fromEntries(
      nodes.map((n, i) => [
        n === onPg ? 'postgres' : 'file',
        round(((cpuSeconds(n.child.pid!) - idleBefore[i]!) * 1000) / IDLE_SECONDS, 1),
      ]),
    );
    const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    const rounds: Round[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const order = i % 2 === 0 ? ['postgres', 'file'] : ['file', 'postgres'];
      for (const store of order) rounds.push(await measure(store, byStore[store]!));
    }
    const loadAfter = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    const summary = (store: string) => {
      const mine = rounds.filter((r) => r.store === store);
      return {
        store,
        requestsPerSecond: Math.round(median(mine.map((r) => r.requestsPerSecond).sort((x, y) => x - y))),
        cpuUsPerRequest: round(median(mine.map((r) => r.cpuUsPerRequest).sort((x, y) => x - y)), 1),
        failed: mine.reduce((n, r) => n + r.failed, 0),
      };
    };
    const results = [summary('postgres'), summary('file')];
    const [p, f] = results as [ReturnType<typeof summary>, ReturnType<typeof summary>];
    console.log(
      `one islet node, no workers, hello world, ${CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ` +
        `${SECONDS} s per store; load average ${load} before, ${loadAfter} after`,
    );
    console.log('round  store      req/s    CPU us/req   p99 ms  failed');
    rounds.forEach((r, i) => {
      const n = String(Math.floor(i / 2) + 1).padEnd(7);
      const line = `${n}${r.store.padEnd(11)}${String(r.requestsPerSecond).padEnd(9)}`;
      console.log(`${line}${String(r.cpuUsPerRequest).padEnd(13)}${String(r.p99Ms).padEnd(8)}${r.failed}`);
    });
    for (const r of results)
      console.log(`median ${r.store.padEnd(9)} ${r.requestsPerSecond} req/s, ${r.cpuUsPerRequest} us CPU/request`);
    console.log(
      `postgres / file: throughput ${round(p.requestsPerSecond / f.requestsPerSecond, 3)}, ` +
        `CPU per request ${round(p.cpuUsPerRequest / f.cpuUsPerRequest, 3)}`,
    );
    console.log(`idle CPU, ms per second: postgres ${idleMsPerSecond.postgres}, file ${idleMsPerSecond.file}`);
    const out = {
      machine: machineInfo(root),
      loadAverage: { before: load, after: loadAfter },
      idleCpuMsPerSecond: idleMsPerSecond,
      rounds,
      results,
    };
    if (!quick)
      fs.writeFileSync(path.join(root, 'bench', 'results', 'nodes-serving.json'), `${JSON.stringify(out, null, 2)}\n`);
    if (process.argv.includes('--json')) console.log(JSON.stringify(out));
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await pg.teardown();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
