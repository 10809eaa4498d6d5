// Metrics as an operator scrapes them: exact names and labels, values that move by known
// amounts when the tenant layer reports, the tenant label bound, scrape-time isolate gauges,
// and output that Prometheus' own checker accepts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Metrics, OTHER_TENANTS, statusLabel } from '../../server/observe/metrics/metrics';
import type { RequestReport } from '../../server/tenants/observer';
import { needs, promtool } from '../support/system';

/** `name{a="x",b="y"} value` lines of a Prometheus text exposition. */
function samples(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `unparseable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const m of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]] = m[2];
    out.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return out;
}

/** the value of the one sample with this name whose labels include `labels`; undefined when absent */
function value(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples(text).filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  assert.ok(found.length <= 1, `${name}${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value;
}

function report(tenant: string, fields: Partial<RequestReport> = {}): RequestReport {
  return { tenant, deployment: 'd1', status: 200, durationS: 0.004, cpuS: 0.001, cold: false, ...fields };
}

async function scrape(metrics: Metrics): Promise<string> {
  return (await metrics.scrape()).body;
}

test('every metric of the issue is exported with its type and labels', async () => {
  const metrics = new Metrics({ rebalanceIntervalMs: 0 });
  const text = await scrape(metrics);
  const expected: [string, string][] = [
    ['islet_requests_total', 'counter'],
    ['islet_request_duration_seconds', 'histogram'],
    ['islet_isolate_cpu_seconds_total', 'counter'],
    ['islet_isolate_wall_seconds_total', 'counter'],
    ['islet_request_cpu_seconds', 'histogram'],
    ['islet_isolate_heap_used_bytes', 'gauge'],
    ['islet_isolate_external_bytes', 'gauge'],
    ['islet_isolates', 'gauge'],
    ['islet_cold_starts_total', 'counter'],
    ['islet_cold_start_seconds', 'histogram'],
    ['islet_isolate_evictions_total', 'counter'],
    ['islet_limit_exceeded_total', 'counter'],
    ['islet_code_cache_total', 'counter'],
    ['islet_subrequests_total', 'counter'],
    ['islet_deployments_total', 'counter'],
    ['process_cpu_seconds_total', 'counter'],
    ['process_resident_memory_bytes', 'gauge'],
    ['nodejs_eventloop_lag_seconds', 'gauge'],
    ['nodejs_eventloop_lag_p99_seconds', 'gauge'],
  ];
  for (const [name, type] of expected) {
    assert.match(text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), `${name} (${type}) missing`);
  }
  // label sets that exist before anything happens, so dashboards see zeros, not gaps
  for (const reason of ['idle', 'memory_pressure', 'count', 'redeploy', 'killed']) {
    assert.equal(value(text, 'islet_isolate_evictions_total', { reason }), 0);
  }
  for (const result of ['hit', 'miss', 'rejected']) assert.equal(value(text, 'islet_code_cache_total', { result }), 0);
  for (const state of ['warm', 'starting', 'draining']) assert.equal(value(text, 'islet_isolates', { state }), 0);
});

test('observer calls move the scraped values by exactly the reported amounts', async () => {
  const metrics = new Metrics({ rebalanceIntervalMs: 0, defaultMetrics: false });
  metrics.requestFinished(report('shop', { status: 200, durationS: 0.002, cpuS: 0.0005 }));
  metrics.requestFinished(report('shop', { status: 200, durationS: 0.3, cpuS: 0.2 }));
  metrics.requestFinished(report('shop', { status: 503, durationS: 0.06, cpuS: 0.05 }));
  metrics.requestFinished(report('blog', { status: 418, durationS: 0.001, cpuS: 0.0001 }));
  metrics.isolateTime('shop', 0.25, 0.5);
  metrics.isolateTime('shop', 0.125, 0.25);
  metrics.coldStart('shop', 0.004);
  metrics.coldStart('blog', 0.02);
  metrics.eviction('idle');
  metrics.eviction('memory_pressure');
  metrics.eviction('idle');
  metrics.limitExceeded('shop', 'cpu');
  metrics.codeCache('hit');
  metrics.codeCache('rejected');
  metrics.subrequest('shop', 200);
  metrics.subrequest('shop', 0);
  metrics.deployment('shop', 'success');
  metrics.deployment('shop', 'failure');
  const text = await scrape(metrics);

  assert.equal(value(text, 'islet_requests_total', { tenant: 'shop', status: '200' }), 2);
  assert.equal(value(text, 'islet_requests_total', { tenant: 'shop', status: '503' }), 1);
  assert.equal(value(text, 'islet_requests_total', { tenant: 'blog', status: '4xx' }), 1);
  assert.equal(value(text, 'islet_request_duration_seconds_count', { tenant: 'shop' }), 3);
  assert.equal(value(text, 'islet_request_duration_seconds_sum', { tenant: 'shop' }), 0.362);
  assert.equal(value(text, 'islet_request_duration_seconds_bucket', { tenant: 'shop', le: '0.0025' }), 1);
  assert.equal(value(text, 'islet_request_duration_seconds_bucket', { tenant: 'shop', le: '0.1' }), 2);
  assert.equal(value(text, 'islet_request_duration_seconds_bucket', { tenant: 'shop', le: '+Inf' }), 3);
  assert.equal(value(text, 'islet_request_cpu_seconds_count', { tenant: 'shop' }), 3);
  assert.equal(value(text, 'islet_request_cpu_seconds_bucket', { tenant: 'shop', le: '0.0005' }), 1);
  assert.equal(value(text, 'islet_request_cpu_seconds_bucket', { tenant: 'shop', le: '0.05' }), 2);
  assert.equal(value(text, 'islet_isolate_cpu_seconds_total', { tenant: 'shop' }), 0.375);
  assert.equal(value(text, 'islet_isolate_wall_seconds_total', { tenant: 'shop' }), 0.75);
  assert.equal(value(text, 'islet_cold_starts_total', { tenant: 'shop' }), 1);
  assert.equal(value(text, 'islet_cold_starts_total', { tenant: 'blog' }), 1);
  assert.equal(value(text, 'islet_cold_start_seconds_count'), 2);
  assert.equal(value(text, 'islet_cold_start_seconds_bucket', { le: '0.005' }), 1);
  assert.equal(value(text, 'islet_isolate_evictions_total', { reason: 'idle' }), 2);
  assert.equal(value(text, 'islet_isolate_evictions_total', { reason: 'memory_pressure' }), 1);
  assert.equal(value(text, 'islet_limit_exceeded_total', { tenant: 'shop', limit: 'cpu' }), 1);
  assert.equal(value(text, 'islet_code_cache_total', { result: 'hit' }), 1);
  assert.equal(value(text, 'islet_code_cache_total', { result: 'rejected' }), 1);
  assert.equal(value(text, 'islet_subrequests_total', { tenant: 'shop', status: '200' }), 1);
  assert.equal(value(text, 'islet_subrequests_total', { tenant: 'shop', status: 'error' }), 1);
  assert.equal(value(text, 'islet_deployments_total', { tenant: 'shop', result: 'success' }), 1);
  assert.equal(value(text, 'islet_deployments_total', { tenant: 'shop', result: 'failure' }), 1);

  // and they keep moving from where they were
  metrics.requestFinished(report('shop', { status: 200 }));
  metrics.isolateTime('shop', 0.125, 0);
  const after = await scrape(metrics);
  assert.equal(value(after, 'islet_requests_total', { tenant: 'shop', status: '200' }), 3);
  assert.equal(value(after, 'islet_isolate_cpu_seconds_total', { tenant: 'shop' }), 0.5);
  assert.equal(value(after, 'islet_isolate_wall_seconds_total', { tenant: 'shop' }), 0.75);
});

test('status codes: common ones exact, the rest by class, no response as "error"', () => {
  assert.equal(statusLabel(200), '200');
  assert.equal(statusLabel(504), '504');
  assert.equal(statusLabel(299), '2xx');
  assert.equal(statusLabel(599), '5xx');
  assert.equal(statusLabel(0), 'error');
  assert.equal(statusLabel(1000), 'error');
});

test('the tenant label is bounded: only the top N tenants keep their own label', async () => {
  const metrics = new Metrics({ tenantLabels: 2, rebalanceIntervalMs: 0, defaultMetrics: false });
  for (const tenant of ['a', 'b', 'c', 'd']) metrics.requestFinished(report(tenant));
  metrics.limitExceeded('d', 'memory');
  let text = await scrape(metrics);
  const tenantsIn = (t: string, name: string) =>
    new Set(
      samples(t)
        .filter((s) => s.name === name)
        .map((s) => s.labels.tenant),
    );
  assert.deepEqual(tenantsIn(text, 'islet_requests_total'), new Set(['a', 'b', OTHER_TENANTS]));
  assert.equal(value(text, 'islet_requests_total', { tenant: OTHER_TENANTS }), 2);
  assert.equal(value(text, 'islet_limit_exceeded_total', { tenant: OTHER_TENANTS, limit: 'memory' }), 1);

  // traffic moves to c and d: after a rebalance they own the labels, a and b fold into _other
  for (let i = 0; i < 5; i++) {
    metrics.requestFinished(report('c'));
    metrics.requestFinished(report('d'));
  }
  metrics.rebalanceTenants();
  assert.equal(metrics.tenantLabel('a'), OTHER_TENANTS);
  assert.equal(metrics.tenantLabel('c'), 'c');
  metrics.requestFinished(report('a'));
  metrics.requestFinished(report('c'));
  metrics.requestFinished(report('d'));
  text = await scrape(metrics);
  assert.deepEqual(tenantsIn(text, 'islet_requests_total'), new Set(['c', 'd', OTHER_TENANTS]));
  assert.deepEqual(tenantsIn(text, 'islet_request_duration_seconds_count'), new Set(['c', 'd', OTHER_TENANTS]));
  // counts already in _other stay there (counters never go down); new series start at zero
  assert.equal(value(text, 'islet_requests_total', { tenant: OTHER_TENANTS }), 2 + 10 + 1);
  assert.equal(value(text, 'islet_requests_total', { tenant: 'c' }), 1);
});

test('the bound holds under many tenants and periodic rebalancing', async () => {
  const metrics = new Metrics({ tenantLabels: 5, rebalanceIntervalMs: 0, defaultMetrics: false });
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 50; i++) metrics.requestFinished(report(`t${(round * 7 + i) % 200}`));
    metrics.rebalanceTenants();
  }
  const text = await scrape(metrics);
  const tenants = new Set(
    samples(text)
      .filter((s) => s.name === 'islet_requests_total')
      .map((s) => s.labels.tenant),
  );
  assert.ok(tenants.size <= 6, `${tenants.size} tenant label values: ${[...tenants].join(',')}`);
  const total = samples(text)
    .filter((s) => s.name === 'islet_requests_total')
    .reduce((sum, s) => sum + s.value, 0);
  assert.ok(total <= 1000 && total > 0);
});

test('isolate gauges are read from the isolate source at scrape time', async () => {
  const metrics = new Metrics({ tenantLabels: 1, rebalanceIntervalMs: 0, defaultMetrics: false });
  metrics.coldStart('shop', 0.003); // takes the one label slot
  let live = [
    { tenant: 'shop', state: 'warm' as const, heapUsedBytes: 1_000_000, externalBytes: 2048 },
    { tenant: 'shop', state: 'draining' as const, heapUsedBytes: 500_000, externalBytes: 0 },
    { tenant: 'blog', state: 'starting' as const, heapUsedBytes: 300, externalBytes: 7 },
  ];
  metrics.setIsolateSource(() => live);
  let text = await scrape(metrics);
  assert.equal(value(text, 'islet_isolates', { state: 'warm' }), 1);
  assert.equal(value(text, 'islet_isolates', { state: 'draining' }), 1);
  assert.equal(value(text, 'islet_isolates', { state: 'starting' }), 1);
  assert.equal(value(text, 'islet_isolate_heap_used_bytes', { tenant: 'shop' }), 1_500_000);
  assert.equal(value(text, 'islet_isolate_external_bytes', { tenant: 'shop' }), 2048);
  assert.equal(value(text, 'islet_isolate_heap_used_bytes', { tenant: OTHER_TENANTS }), 300);

  live = [{ tenant: 'blog', state: 'warm', heapUsedBytes: 10, externalBytes: 0 }];
  text = await scrape(metrics);
  assert.equal(value(text, 'islet_isolates', { state: 'warm' }), 1);
  assert.equal(value(text, 'islet_isolates', { state: 'draining' }), 0);
  assert.equal(
    value(text, 'islet_isolate_heap_used_bytes', { tenant: 'shop' }),
    undefined,
    'gone isolates leave the gauge',
  );
  assert.equal(value(text, 'islet_isolate_heap_used_bytes', { tenant: OTHER_TENANTS }), 10);
});

test('a failing isolate source does not fail the scrape', async () => {
  const errors: unknown[] = [];
  const metrics = new Metrics({ defaultMetrics: false, onCollectError: (e) => errors.push(e) });
  metrics.setIsolateSource(() => {
    throw new Error('pool is closing');
  });
  metrics.requestFinished(report('shop'));
  const text = await scrape(metrics);
  assert.equal(value(text, 'islet_requests_total', { tenant: 'shop', status: '200' }), 1);
  assert.equal(value(text, 'islet_isolates', { state: 'warm' }), 0);
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /pool is closing/);
});

test('bad options are refused with a message naming the option', () => {
  assert.throws(() => new Metrics({ tenantLabels: -1 }), /tenantLabels must be a non-negative integer/);
});

test('promtool check metrics accepts the exposition', needs(promtool), async (t) => {
  const metrics = new Metrics({ tenantLabels: 3, rebalanceIntervalMs: 0 });
  metrics.requestFinished(report('shop', { status: 503 }));
  metrics.coldStart('shop', 0.004);
  metrics.limitExceeded('shop', 'wall');
  metrics.setIsolateSource(() => [{ tenant: 'shop', state: 'warm', heapUsedBytes: 1, externalBytes: 1 }]);
  const text = await scrape(metrics);
  const result = spawnSync(promtool.path ?? 'promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  t.diagnostic(`promtool: ${(result.stdout + result.stderr).trim() || 'no findings'}`);
  assert.equal(result.status, 0, `promtool check metrics found problems:\n${result.stdout}${result.stderr}`);
});
