// End to end, as an operator sees islet: a real `islet serve` (tenant port + admin port on
// 127.0.0.1), functions deployed through the admin API, a known set of requests (fast,
// CPU-heavy, failing, cut by the CPU limit, cold), and then:
// - the scraped /metrics values moved by exactly the expected amounts;
// - the tenant's logs hold request lines and the limit cut with its request id and measured value,
//   and (second test) the tenant's JavaScript stack where it was cut, mapped back to the uploaded
//   TypeScript file;
// - a real Prometheus server scraping the admin port with the operator token sees the target up
//   and the tenant's islet_requests_total series.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startHarness, eventually, type Harness } from './serve-harness';
import { needs, promtool, prometheus as prometheusServer } from '../support/system';

/** eventually(), typed for a value that is null until ready */
async function until<T>(fn: () => Promise<T | null>, ms: number): Promise<T> {
  return (await eventually(fn, ms)) as T;
}

const root = path.resolve(__dirname, '../../..');
const fixtures = path.join(root, 'test/fixtures/metrics');
const operator = { authorization: 'Bearer test-operator-token' };

interface Series {
  metric: Record<string, string>;
  value: [number, string];
}
interface Prometheus {
  targetUp(ms?: number): Promise<{ health: string; lastError: string }>;
  query(expr: string, accept?: (result: Series[]) => boolean, ms?: number): Promise<Series[]>;
  stop(): Promise<void>;
}
const { startPrometheus } = require(path.join(root, 'test/fixtures/metrics/prometheus.js')) as {
  startPrometheus(options: { target: string; token?: string }): Promise<Prometheus>;
};

/** One scrape, read as `name{labels}` -> value; absent series read as 0. */
class Scrape {
  #samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  constructor(readonly text: string) {
    for (const line of text.split('\n')) {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m) continue;
      const labels: Record<string, string> = {};
      for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
      this.#samples.push({ name: m[1], labels, value: Number(m[3]) });
    }
  }
  get(name: string, labels: Record<string, string> = {}): number {
    return this.#samples
      .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .reduce((sum, s) => sum + s.value, 0);
  }
}

async function scrape(h: Harness): Promise<Scrape> {
  const res = await fetch(`http://127.0.0.1:${h.serving.adminPort}/metrics`, { headers: operator });
  assert.equal(res.status, 200, `GET /metrics answered ${res.status}`);
  return new Scrape(await res.text());
}

async function deploy(h: Harness, tenant: string, file: string, type: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${h.serving.adminPort}/v1/tenants/${tenant}/deployments?entry=${file}`, {
    method: 'POST',
    headers: { ...operator, 'content-type': type },
    body: fs.readFileSync(path.join(fixtures, file)),
  });
}

test('metrics, logs and a real Prometheus after a known set of requests', async (t) => {
  const h = await startHarness((config) => {
    config.limits.cpuMs = 50;
  });
  t.after(() => h.close());
  const before = await scrape(h);

  for (const [tenant, file, type] of [
    ['fast', 'fast.js', 'application/javascript'],
    ['heavy', 'heavy.ts', 'application/typescript'],
    ['fail', 'fail.js', 'application/javascript'],
  ]) {
    const res = await deploy(h, tenant, file, type);
    assert.equal(res.status, 201, `deploying ${file}: ${res.status} ${await res.text()}`);
  }
  const refused = await fetch(`http://127.0.0.1:${h.serving.adminPort}/v1/tenants/fast/deployments`, {
    method: 'POST',
    headers: { ...operator, 'content-type': 'application/javascript' },
    body: 'export const notAHandler = 1;',
  });
  assert.equal(refused.status, 400);

  // The first answered request of each tenant starts its isolate (cold). Until the tenant router
  // has picked up the activation the front answers 404 for an unknown host: not a tenant request.
  const first = async (tenant: string, p = '/') =>
    until(async () => {
      const res = await h.get(`${tenant}.localhost`, p);
      return res.status === 404 ? null : res;
    }, 10_000);
  const fastFirst = await first('fast');
  assert.equal(fastFirst.status, 200);
  for (let i = 0; i < 4; i++) assert.equal((await h.get('fast.localhost')).status, 200);
  const heavyFirst = await first('heavy');
  assert.equal(heavyFirst.status, 200, heavyFirst.text);
  for (let i = 0; i < 2; i++) assert.equal((await h.get('heavy.localhost')).status, 200);
  const cut = await h.get('heavy.localhost', '/forever');
  assert.equal(cut.status, 503);
  assert.equal(cut.headers['islet-error'], 'cpu');
  const cutId = cut.headers['islet-request-id'] as string;
  assert.ok(cutId, 'limit cuts carry islet-request-id');
  const thrown = await h.get('heavy.localhost', '/throw');
  assert.equal(thrown.status, 500);
  const thrownId = thrown.headers['islet-request-id'] as string;
  assert.equal((await first('fail')).status, 500);
  assert.equal((await h.get('fail.localhost')).status, 500);

  // counters move by exactly what was sent; isolate time and heap size arrive with the pool's
  // periodic sampling of its isolates (every second in the harness)
  const after = await until(async () => {
    const s = await scrape(h);
    const sampled =
      s.get('islet_isolate_cpu_seconds_total', { tenant: 'heavy' }) >
        before.get('islet_isolate_cpu_seconds_total', { tenant: 'heavy' }) &&
      s.get('islet_isolate_heap_used_bytes', { tenant: 'fast' }) > 0;
    return sampled ? s : null;
  }, 10_000);
  const delta = (name: string, labels: Record<string, string> = {}) =>
    after.get(name, labels) - before.get(name, labels);
  assert.equal(delta('islet_requests_total', { tenant: 'fast', status: '200' }), 5);
  assert.equal(delta('islet_requests_total', { tenant: 'heavy', status: '200' }), 3);
  assert.equal(delta('islet_requests_total', { tenant: 'heavy', status: '503' }), 1);
  assert.equal(delta('islet_requests_total', { tenant: 'heavy', status: '500' }), 1);
  assert.equal(delta('islet_requests_total', { tenant: 'fail', status: '500' }), 2);
  assert.equal(delta('islet_request_duration_seconds_count', { tenant: 'fast' }), 5);
  assert.equal(delta('islet_request_cpu_seconds_count', { tenant: 'heavy' }), 5);
  assert.equal(delta('islet_cold_starts_total', { tenant: 'fast' }), 1);
  assert.equal(delta('islet_cold_starts_total', { tenant: 'heavy' }), 1);
  assert.equal(delta('islet_cold_starts_total', { tenant: 'fail' }), 1);
  assert.equal(delta('islet_cold_start_seconds_count'), 3);
  assert.equal(delta('islet_limit_exceeded_total', { tenant: 'heavy', limit: 'cpu' }), 1);
  assert.equal(delta('islet_limit_exceeded_total', { tenant: 'fast' }), 0);
  assert.equal(delta('islet_deployments_total', { tenant: 'fast', result: 'success' }), 1);
  assert.equal(delta('islet_deployments_total', { tenant: 'fast', result: 'failure' }), 1);
  assert.equal(delta('islet_deployments_total', { tenant: 'heavy', result: 'success' }), 1);
  // the heavy requests did a thousand times the work of the fast ones: their CPU shows it, and
  // the isolate's own accounting covers at least the CPU billed to requests that ran to the end
  assert.ok(
    delta('islet_request_cpu_seconds_sum', { tenant: 'heavy' }) >
      delta('islet_request_cpu_seconds_sum', { tenant: 'fast' }),
  );
  assert.ok(delta('islet_isolate_wall_seconds_total', { tenant: 'heavy' }) > 0);
  // live isolates, read at scrape time
  assert.ok(after.get('islet_isolates', { state: 'warm' }) >= 2);
  assert.ok(after.get('islet_isolate_heap_used_bytes', { tenant: 'fast' }) > 0);
  assert.ok(delta('islet_code_cache_total') >= 3, 'each cold start looks up the code cache');
  // the machine-stall ledger is exported (zero or more: stops come from the host, not the test)
  for (const name of [
    'islet_machine_stalls_total',
    'islet_machine_stall_seconds_total',
    'islet_cpu_stall_credit_seconds_total',
  ]) {
    assert.match(after.text, new RegExp(`^${name} \\d`, 'm'), `${name} is in the scrape`);
    assert.ok(delta(name) >= 0, `${name} never goes down`);
  }
  await t.test('promtool check metrics accepts the live scrape', needs(promtool), () => {
    const check = spawnSync(promtool.path ?? 'promtool', ['check', 'metrics'], { input: after.text, encoding: 'utf8' });
    assert.ok(!check.error, `promtool did not run: ${check.error?.message}`);
    assert.equal(check.status, 0, `promtool check metrics on a live scrape:\n${check.stdout}${check.stderr}`);
  });

  // the tenant's logs: request lines with ids, and the cut with a stack in the uploaded file
  const logs = await fetch(`http://127.0.0.1:${h.serving.adminPort}/v1/tenants/heavy/logs?limit=100`, {
    headers: operator,
  });
  assert.equal(logs.status, 200);
  const lines = (await logs.text())
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const requests = lines.filter((l) => l.source === 'request');
  assert.equal(requests.length, 5);
  for (const r of requests) {
    assert.equal(r.tenant, 'heavy');
    assert.equal(typeof r.requestId, 'string');
    assert.equal(typeof r.cpuMs, 'number');
    assert.equal(typeof r.wallMs, 'number');
    assert.equal(typeof r.deployment, 'string');
  }
  assert.deepEqual(
    requests.map((r) => r.cold),
    [true, false, false, false, false],
  );
  const limit = lines.find((l) => l.source === 'limit');
  assert.ok(limit, `no limit line in ${JSON.stringify(lines)}`);
  assert.equal(limit.requestId, cutId);
  assert.equal(limit.limit, 'cpu');
  assert.ok(typeof limit.measured === 'number' && limit.measured >= 50, `measured ${limit.measured}`);
  // the exception's stack, reported against the built module, reads in the uploaded TypeScript
  const exception = lines.find((l) => l.source === 'exception');
  assert.ok(exception, `no exception line in ${JSON.stringify(lines)}`);
  assert.equal(exception.requestId, thrownId);
  assert.match(String(exception.msg), /nothing to do at \/throw/);
  assert.match(String(exception.stack), /at explode \(heavy\.ts:29:\d+\)/, `stack not mapped: ${exception.stack}`);
  assert.match(String(exception.stack), /heavy\.ts:22:\d+/, `stack not mapped: ${exception.stack}`);
  const failLogs = await (
    await fetch(`http://127.0.0.1:${h.serving.adminPort}/v1/tenants/fail/logs`, { headers: operator })
  ).text();
  assert.match(failLogs, /"msg":"about to fail"/);
  assert.match(failLogs, /this function always fails/);
  assert.doesNotMatch(failLogs, /"tenant":"heavy"/);

  // a real Prometheus scrapes the admin port with the operator token
  await t.test(
    'a real Prometheus scrapes the admin port with the operator token',
    needs(prometheusServer),
    async (t) => {
      const prometheus = await startPrometheus({
        target: `127.0.0.1:${h.serving.adminPort}`,
        token: 'test-operator-token',
      });
      t.after(() => prometheus.stop());
      assert.equal((await prometheus.targetUp()).health, 'up');
      const series = await prometheus.query('islet_requests_total{tenant="fast"}');
      assert.deepEqual(
        series.map((s) => [s.metric.tenant, s.metric.status, s.metric.job]),
        [['fast', '200', 'islet']],
      );
      assert.equal(Number(series[0].value[1]), after.get('islet_requests_total', { tenant: 'fast', status: '200' }));
      const byStatus = await prometheus.query(
        'sum by (status) (islet_requests_total{tenant="heavy"})',
        (r) => r.length === 3,
      );
      assert.deepEqual(Object.fromEntries(byStatus.map((s) => [s.metric.status, Number(s.value[1])])), {
        '200': 3,
        '500': 1,
        '503': 1,
      });
    },
  );
});

test("a CPU limit cut is logged with the tenant's stack, mapped to the uploaded TypeScript file and line", async (t) => {
  const h = await startHarness((config) => {
    config.limits.cpuMs = 50;
  });
  t.after(() => h.close());
  const res = await deploy(h, 'heavy', 'heavy.ts', 'application/typescript');
  assert.equal(res.status, 201, await res.text());
  const cut = await until(async () => {
    const r = await h.get('heavy.localhost', '/forever');
    return r.status === 404 ? null : r;
  }, 10_000);
  assert.equal(cut.status, 503);
  const line = await until(async () => {
    const text = await (
      await fetch(`http://127.0.0.1:${h.serving.adminPort}/v1/tenants/heavy/logs`, { headers: operator })
    ).text();
    return (
      text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.source === 'limit') ?? null
    );
  }, 5000);
  assert.equal(line.requestId, cut.headers['islet-request-id']);
  assert.equal(
    typeof line.stack,
    'string',
    'the limit line carries no stack: the addon reported no error.isolateStack',
  );
  assert.match(String(line.stack), /heavy\.ts:(12|20):\d+/, `stack not mapped to heavy.ts: ${line.stack}`);
  t.diagnostic(`limit stack as the tenant reads it:\n${line.stack}`);
});

test("a scrape counts isolate CPU time up to the moment it is taken, not as of the pool's last sweep", async () => {
  // no sweep during the test: only the scrape itself can bring the counter up to date
  const h = await startHarness((config) => {
    config.pool.sampleIntervalS = 3600;
  });
  try {
    await h.deploy('burner', {
      'index.js':
        // counted work: the clock stands still while tenant code runs, so a loop on Date.now() never ends
        'export default { fetch() { let n = 0; for (let i = 0; i < 4e6; i++) n = (n * 31 + i) % 1000003; return new Response(String(n)); } };',
    });
    await eventually(async () => (await h.get('burner.localhost')).status === 200);
    const first = await scrape(h);
    for (let i = 0; i < 5; i++) assert.equal((await h.get('burner.localhost')).status, 200);
    const second = await scrape(h);
    // five requests of up to ~30 ms of CPU each (less when a busy machine preempts the loop) were
    // made between the two scrapes: the isolate's CPU counter covers at least what those requests
    // were charged, which it would not if only the pool's sweep brought it up to date
    const used =
      second.get('islet_isolate_cpu_seconds_total', { tenant: 'burner' }) -
      first.get('islet_isolate_cpu_seconds_total', { tenant: 'burner' });
    const charged =
      second.get('islet_request_cpu_seconds_sum', { tenant: 'burner' }) -
      first.get('islet_request_cpu_seconds_sum', { tenant: 'burner' });
    assert.ok(charged > 0.005, `the five requests were charged CPU: ${charged} s`);
    assert.ok(used >= charged - 1e-6, `isolate CPU between the scrapes ${used} s, charged to requests ${charged} s`);
    // wall time is never less than CPU time (the addon caps CPU at wall; a busy loop often meets
    // the cap exactly, so allow for the rounding of two separately summed float counters)
    const wall =
      second.get('islet_isolate_wall_seconds_total', { tenant: 'burner' }) -
      first.get('islet_isolate_wall_seconds_total', { tenant: 'burner' });
    assert.ok(wall >= used - 1e-6, `wall ${wall} s, CPU ${used} s`);
  } finally {
    await h.close();
  }
});
