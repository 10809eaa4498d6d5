// bench/accounting: what reporting one finished request costs the server, i.e.
// Accounting.finish with the real Logger, LogHub and Metrics as `islet serve` wires them (the
// request log line, the tenant ring, the three request metrics), and each half alone.
//
// The loop finishes REQUESTS_PER_TURN requests per event-loop turn, then yields with
// setImmediate, as a busy server does, so a sink batching per turn pays its write once per turn
// here too. The log goes to /dev/null through the same sinks as in production (stdoutSink's
// batching) or as the older ways (one write per turn, per line). The cost of the loop and its
// yields alone is measured the same way and subtracted. Numbers are CPU time (user + system)
// per finished request, median of the rounds; the batch writes are included.
//
// Baselines in the same run, so a change can be judged on a noisy shared machine:
//  - `line: JSON.stringify`: a request record built as an object and serialized by
//    JSON.stringify (how server/log.ts wrote every line before the hand-made request line);
//  - `metrics: prom-client alone`: the counter inc and the two histogram observes of one
//    request straight on prom-client metrics (how server/metrics.ts recorded them before the
//    per-tenant accumulators).
// Run: npm run build && npm run bench -- accounting   (or node dist/bench/accounting/main.js [--json])
import fs from 'node:fs';
import { setImmediate as yieldTurn } from 'node:timers/promises';
import { Counter, Histogram, Registry } from 'prom-client';
import { Logger, batchedSink, isoNow, stdoutSink, type LogSink } from '../../server/observe/server-log';
import { LogHub } from '../../server/observe/tenant-logs/hub';
import { Metrics } from '../../server/observe/metrics/metrics';
import { Accounting, type FinishedRequest } from '../../server/tenants/accounting';
import type { TenantIsolate } from '../../server/tenants/tenant-isolate';
import { median, round } from '../lib/stats';

const REQUESTS_PER_TURN = 8;
// requests alternate between these tenants unless a result says one tenant
const ROUNDS = process.argv.includes('--quick') ? 5 : 11;
const PER_ROUND = 40_000;
const TENANTS = ['hello', 'shop', 'blog', 'api'];

const devNull = fs.openSync('/dev/null', 'a');
const toDevNull = (chunk: string): void => void fs.writeSync(devNull, chunk);
/** one write system call per line: what bench/serve's islet-server passed until now */
const lineSink: LogSink = (line) => void fs.writeSync(devNull, line + '\n');
/** the production sink (its batching), writing to /dev/null instead of stdout */
const batched = stdoutSink(toDevNull);
/** batches of one event-loop turn */
const perTurn = batchedSink(toDevNull);

function entryOf(tenant: string): TenantIsolate {
  // Accounting reads only these fields of the isolate entry on a request's way out
  return { tenant, deployment: `${tenant}-0123456789abcdef`, limits: {} } as unknown as TenantIsolate;
}
const entries = TENANTS.map(entryOf);

function request(i: number): FinishedRequest {
  return {
    entry: entries[i & 3],
    requestId: `r${(0x100000 + i).toString(16)}`,
    method: 'GET',
    path: i % 5 === 0 ? '/search?q=%22quoted%22&page=2' : '/',
    status: i % 50 === 0 ? 404 : 200,
    startedNs: process.hrtime.bigint() - 45_000n,
    cold: false,
    account: {
      cpuNs: BigInt(20_000 + (i % 977) * 13),
      wallNs: BigInt(30_000 + (i % 1013) * 17),
      subrequests: 0,
      logBytes: 0,
    },
  };
}

/** CPU ns per call of `step`, run REQUESTS_PER_TURN times per event-loop turn, minus the bare loop. */
async function measure(step: (i: number) => void): Promise<number> {
  const run = async (fn: (i: number) => void): Promise<number> => {
    const before = process.cpuUsage();
    for (let i = 0; i < PER_ROUND; ) {
      for (let k = 0; k < REQUESTS_PER_TURN; k++, i++) fn(i);
      await yieldTurn();
    }
    const used = process.cpuUsage(before);
    return ((used.user + used.system) * 1000) / PER_ROUND;
  };
  const noop = (): void => {};
  await run(step); // warm-up: JIT and the first series/rings
  const samples: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const floor = await run(noop);
    samples.push((await run(step)) - floor);
  }
  return round(median(samples), 0);
}

function server(sink: LogSink, logRequests = true) {
  const logger = new Logger('info', sink);
  const logs = new LogHub(logger);
  const metrics = new Metrics({ defaultMetrics: false });
  const accounting = new Accounting({ observer: metrics, logs, logRequests });
  return { logger, logs, metrics, accounting };
}

async function main(): Promise<void> {
  // the requests are prepared outside the measured loop: their allocation is not accounting's
  const prepared = Array.from({ length: 4096 }, (_, i) => request(i));
  const at = (i: number): FinishedRequest => prepared[i & 4095];
  // bench/serve's hello world: every request of one tenant deployment
  const single = prepared.map((r) => ({ ...r, entry: entries[0] }));

  const full = server(batched);
  const fullPerTurn = server(perTurn);
  const oneTenant = server(stdoutSink(toDevNull));
  const fullLineSink = server(lineSink);
  const noLog = server(batched, false);
  const logOnly = server(batched);
  const metricsOnly = server(batched);

  const results: Record<string, number> = {};
  results['Accounting.finish (stdout batching of islet serve)'] = await measure((i) => full.accounting.finish(at(i)));
  results['Accounting.finish (one tenant, stdout batching)'] = await measure((i) =>
    oneTenant.accounting.finish(single[i & 4095]),
  );
  results['Accounting.finish (one write per event-loop turn)'] = await measure((i) =>
    fullPerTurn.accounting.finish(at(i)),
  );
  results['Accounting.finish (one write per line)'] = await measure((i) => fullLineSink.accounting.finish(at(i)));
  results['Accounting.finish (logRequests off)'] = await measure((i) => noLog.accounting.finish(at(i)));
  results['LogHub.request (line, tenant ring, stdout batching)'] = await measure((i) => {
    const r = at(i);
    logOnly.logs.request({
      tenant: r.entry.tenant,
      deployment: r.entry.deployment,
      requestId: r.requestId,
      method: r.method,
      path: r.path,
      status: r.status,
      cpuMs: 0.021,
      wallMs: 0.034,
      cold: false,
    });
  });
  results['Metrics.requestFinished'] = await measure((i) => {
    const r = at(i);
    metricsOnly.metrics.requestFinished({
      tenant: r.entry.tenant,
      deployment: r.entry.deployment,
      status: r.status,
      durationS: 0.000045,
      cpuS: 0.000021,
      cold: false,
    });
  });

  // baselines
  results['baseline line: JSON.stringify of a record, batched sink'] = await measure((i) => {
    const r = at(i);
    const record = {
      time: isoNow(),
      level: 'info',
      msg: 'request',
      tenant: r.entry.tenant,
      deployment: r.entry.deployment,
      requestId: r.requestId,
      source: 'request',
      method: r.method,
      path: r.path,
      status: r.status,
      cpuMs: 0.021,
      wallMs: 0.034,
      cold: false,
    };
    batched(JSON.stringify(record));
  });
  const registry = new Registry();
  const counter = new Counter({ name: 'c_total', help: 'h', labelNames: ['tenant', 'status'], registers: [registry] });
  const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
  const h1 = new Histogram({ name: 'h1', help: 'h', labelNames: ['tenant'], buckets, registers: [registry] });
  const h2 = new Histogram({ name: 'h2', help: 'h', labelNames: ['tenant'], buckets, registers: [registry] });
  const statusLabels = TENANTS.map((tenant) => ({ tenant, status: '200' }));
  const tenantLabels = TENANTS.map((tenant) => ({ tenant }));
  results['baseline metrics: prom-client alone (inc + 2 observes)'] = await measure((i) => {
    counter.inc(statusLabels[i & 3]);
    h1.observe(tenantLabels[i & 3], 0.000045);
    h2.observe(tenantLabels[i & 3], 0.000021);
  });
  batched.flush();
  perTurn.flush();

  if (process.argv.includes('--json')) {
    console.log(
      JSON.stringify(
        { unit: 'ns CPU per finished request', requestsPerTurn: REQUESTS_PER_TURN, rounds: ROUNDS, results },
        null,
        2,
      ),
    );
    return;
  }
  console.log(
    `bench/accounting: CPU ns per finished request (median of ${ROUNDS} rounds of ${PER_ROUND}, ${REQUESTS_PER_TURN} per event-loop turn, bare loop subtracted)`,
  );
  const width = Math.max(...Object.keys(results).map((k) => k.length));
  for (const [name, ns] of Object.entries(results))
    console.log(`  ${name.padEnd(width)}  ${String(ns).padStart(6)} ns`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
