// bench/cluster: what read-your-writes costs a deploy on `islet serve --workers 2`.
// Two islets run side by side on this machine: one answers an admin write once every worker
// serves it (the default), the other answers at once (ISLET_SYNC_TIMEOUT_MS=0: how islet
// answered before read-your-writes; the change still reaches the workers through the fan-out).
// Deploys alternate between them (A B A B ...), so a drift of the machine's speed hits both. For
// each deploy: the API's latency (POST -> 201), and the time until a request on a fresh
// connection serves the new version ("visible"). With the wait, visible = answered; without it,
// the client got its answer sooner but the change was not yet true.
// Then, on both, what the very next request sees after a redeploy, an env change or a route
// change was answered (next-request.ts), and what the crash journal costs a request (journal.ts).
// Run: npm run build && npm run bench -- cluster   (or node --no-node-snapshot dist/bench/cluster/main.js [--quick])
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { machineInfo } from '../lib/machine';
import { freePort, startProcess, type ServerProcess } from '../lib/proc';
import { percentileSorted, round } from '../lib/stats';
import { measureJournal } from './journal';
import { countNextRequests, type NextRequestCounts } from './next-request';

const quick = process.argv.includes('--quick');
const DEPLOYS = quick ? 20 : 50;
const root = path.resolve(__dirname, '../../..');
const token = 'bench-cluster-token';

interface Islet {
  label: string;
  proc: ServerProcess;
  port: number;
  adminPort: number;
  dataDir: string;
  answeredMs: number[];
  visibleMs: number[];
}

async function start(label: string, syncTimeoutMs: number): Promise<Islet> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-bench-cluster-'));
  const proc = startProcess(
    label,
    process.execPath,
    ['--no-node-snapshot', path.join(root, 'bin', 'islet.js'), 'serve', '--workers', '2'],
    {
      env: {
        ...process.env,
        ISLET_PORT: String(port),
        ISLET_HOST: '127.0.0.1',
        ISLET_ADMIN_PORT: String(adminPort),
        ISLET_DATA_DIR: dataDir,
        ISLET_ADMIN_TOKEN: token,
        ISLET_LOG_REQUESTS: 'false',
        ISLET_LOG_LEVEL: 'warn',
        ISLET_SYNC_TIMEOUT_MS: String(syncTimeoutMs),
      },
    },
  );
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const res = await request(`http://127.0.0.1:${adminPort}/healthz`);
      await res.body.text();
      if (res.statusCode === 200) break;
    } catch {
      // not up yet
    }
    if (!proc.alive() || Date.now() > deadline) throw new Error(`${label} did not start:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { label, proc, port, adminPort, dataDir, answeredMs: [], visibleMs: [] };
}

const source = (mark: string) => `export default { fetch() { return new Response(${JSON.stringify(mark)}); } };`;

async function served(islet: Islet, mark: string): Promise<boolean> {
  const agent = new Agent({ connections: 1 });
  try {
    const res = await request(`http://127.0.0.1:${islet.port}/`, {
      headers: { host: 'bench.localhost' },
      dispatcher: agent,
    });
    return (await res.body.text()) === mark;
  } finally {
    await agent.close();
  }
}

async function deployOnce(islet: Islet, n: number): Promise<void> {
  const mark = `${islet.label}-${n}`;
  const started = performance.now();
  const res = await request(`http://127.0.0.1:${islet.adminPort}/v1/tenants/bench/deployments`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/javascript' },
    body: source(mark),
  });
  const text = await res.body.text();
  if (res.statusCode !== 201) throw new Error(`${islet.label}: deploy answered ${res.statusCode} ${text}`);
  islet.answeredMs.push(performance.now() - started);
  while (!(await served(islet, mark))) {
    if (performance.now() - started > 30_000) throw new Error(`${islet.label}: deployment ${n} never served`);
  }
  islet.visibleMs.push(performance.now() - started);
}

function summary(values: number[]): { median: number; p99: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: round(percentileSorted(sorted, 50), 1), p99: round(percentileSorted(sorted, 99), 1) };
}

async function main(): Promise<void> {
  const machine = machineInfo(root);
  console.log(
    `bench/cluster: ${DEPLOYS} deploys each, interleaved; ${machine.cores} CPUs, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const waits = await start('read-your-writes', 5000);
  const noWait = await start('answer at once', 0);
  try {
    for (const islet of [waits, noWait]) await deployOnce(islet, -1); // warm-up: the tenant exists
    waits.answeredMs.length = noWait.answeredMs.length = waits.visibleMs.length = noWait.visibleMs.length = 0;
    for (let n = 0; n < DEPLOYS; n++) {
      await deployOnce(waits, n);
      await deployOnce(noWait, n);
    }
    const rows = [waits, noWait].map((islet) => ({
      islet: islet.label,
      answered: summary(islet.answeredMs),
      visible: summary(islet.visibleMs),
    }));
    console.log('\ndeploy latency (ms)          answered median   p99     served on a fresh connection median   p99');
    for (const row of rows) {
      console.log(
        `${row.islet.padEnd(28)} ${String(row.answered.median).padStart(8)} ${String(row.answered.p99).padStart(8)}` +
          `     ${String(row.visible.median).padStart(8)} ${String(row.visible.p99).padStart(8)}`,
      );
    }
    const ratio = round(rows[0]!.answered.median / rows[1]!.answered.median, 2);
    console.log(`\nanswer latency ratio (read-your-writes / answer at once), medians: ${ratio}`);
    const next: Record<string, NextRequestCounts> = {};
    for (const islet of [waits, noWait]) next[islet.label] = await countNextRequests({ ...islet, token }, 'next');
    console.log('\nthe next request after the answer (fresh connection) saw the change:');
    for (const [label, c] of Object.entries(next)) {
      console.log(
        `${label.padEnd(28)} redeploy ${c.redeploy.saw}/${c.redeploy.of}, env ${c.env.saw}/${c.env.of},` +
          ` route ${c.route.saw}/${c.route.of}`,
      );
    }
    const journal = measureJournal(quick ? 5 : 11);
    console.log(
      `\nin-flight journal, CPU per request: ${journal.journalNs} ns answered at once (begin, tenant, entry mark,` +
        ` answering, end), ${journal.parkedNs} ns when it waited (its head kept);` +
        ` one 64-byte pwrite to /dev/shm: ${journal.pwriteNs} ns`,
    );
    fs.mkdirSync(path.join(root, 'bench', 'results'), { recursive: true });
    fs.writeFileSync(
      path.join(root, 'bench', 'results', 'cluster.json'),
      `${JSON.stringify({ deploys: DEPLOYS, machine, rows, ratio, next, journal }, null, 2)}\n`,
    );
  } finally {
    for (const islet of [waits, noWait]) {
      await islet.proc.stop();
      fs.rmSync(islet.dataDir, { recursive: true, force: true });
    }
  }
}

main().catch((error: Error) => {
  console.error(error.stack ?? error.message);
  process.exit(1);
});
