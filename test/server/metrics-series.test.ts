// The request metrics are recorded through series handles rather than prom-client's inc/observe,
// for speed. Operators rely on the exposition being what prom-client itself would write: after
// many requests of several tenants, the text of the three request metrics, and their sum over
// cluster workers, must equal prom-client's Counter and Histograms fed the same requests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { Metrics, statusLabel } from '../../server/observe/metrics/metrics';
import type { RequestReport } from '../../server/tenants/observer';

const REQUEST_METRICS = ['islet_requests_total', 'islet_request_duration_seconds', 'islet_request_cpu_seconds'];

/** prom-client's own metrics with the names, help and buckets islet documents */
function referenceRegistry() {
  const registry = new Registry();
  const registers = [registry];
  const requests = new Counter({
    name: 'islet_requests_total',
    help: 'Requests served by tenant functions, by response status',
    labelNames: ['tenant', 'status'],
    registers,
  });
  const duration = new Histogram({
    name: 'islet_request_duration_seconds',
    help: 'Time from receiving a request to the end of its response',
    labelNames: ['tenant'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const cpu = new Histogram({
    name: 'islet_request_cpu_seconds',
    help: 'CPU time one request spent inside its isolate',
    labelNames: ['tenant'],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers,
  });
  const record = (r: RequestReport) => {
    requests.inc({ tenant: r.tenant, status: statusLabel(r.status) });
    duration.observe({ tenant: r.tenant }, Math.max(0, r.durationS));
    cpu.observe({ tenant: r.tenant }, Math.max(0, r.cpuS));
  };
  return { registry, record };
}

/** deterministic pseudo-random requests: several tenants, statuses, and values across every bucket */
function* requests(count: number, seed: number): Generator<RequestReport> {
  let x = seed;
  const next = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const statuses = [200, 200, 200, 404, 503, 299, 0, 1000, 418];
  for (let i = 0; i < count; i++) {
    yield {
      tenant: ['shop', 'blog', 'api'][Math.floor(next() * 3)],
      deployment: 'd',
      status: statuses[Math.floor(next() * statuses.length)],
      // log-uniform from 10 us to ~60 s, plus exact bucket bounds now and then
      durationS: i % 97 === 0 ? 0.005 : 1e-5 * Math.exp(next() * 15.6),
      cpuS: i % 89 === 0 ? 0.00025 : i % 101 === 0 ? -1 : 1e-6 * Math.exp(next() * 14),
      cold: false,
    };
  }
}

/** the blocks (HELP, TYPE, samples) of the named metrics in an exposition */
function blocks(text: string, names: string[]): string {
  return text
    .split('\n\n')
    .filter((block) => names.some((name) => block.startsWith(`# HELP ${name} `)))
    .map((block) => block.trimEnd())
    .join('\n\n');
}

test('after many requests the request metrics read exactly as prom-client alone would write them', async () => {
  const metrics = new Metrics({ rebalanceIntervalMs: 0, defaultMetrics: false });
  const reference = referenceRegistry();
  for (const r of requests(20_000, 7)) {
    metrics.requestFinished(r);
    reference.record(r);
  }
  const ours = blocks((await metrics.scrape()).body, REQUEST_METRICS);
  const theirs = blocks(await reference.registry.metrics(), REQUEST_METRICS);
  assert.equal(ours.split('\n').length, theirs.split('\n').length);
  assert.ok(
    ours.includes('islet_request_duration_seconds_bucket{le="+Inf",tenant="shop"}'),
    'no histogram in the exposition',
  );
  assert.equal(ours, theirs);
});

test('summed over cluster workers, the request metrics equal prom-client summed the same way', async () => {
  const workers = [
    new Metrics({ rebalanceIntervalMs: 0, defaultMetrics: false }),
    new Metrics({ rebalanceIntervalMs: 0, defaultMetrics: false }),
  ];
  const references = [referenceRegistry(), referenceRegistry()];
  for (let w = 0; w < 2; w++) {
    for (const r of requests(3000, 11 + w)) {
      workers[w].requestFinished(r);
      references[w].record(r);
    }
  }
  const ours = AggregatorRegistry.aggregate(await Promise.all(workers.map((m) => m.registry.getMetricsAsJSON())));
  const theirs = AggregatorRegistry.aggregate(await Promise.all(references.map((r) => r.registry.getMetricsAsJSON())));
  assert.equal(blocks(await ours.metrics(), REQUEST_METRICS), blocks(await theirs.metrics(), REQUEST_METRICS));
});

test('the busiest tenants are re-ranked on their own, without a scrape or a call', async () => {
  const metrics = new Metrics({ tenantLabels: 1, rebalanceIntervalMs: 20, defaultMetrics: false });
  metrics.requestFinished({
    tenant: 'quiet',
    deployment: 'd',
    status: 200,
    durationS: 0.001,
    cpuS: 0.001,
    cold: false,
  });
  assert.equal(metrics.tenantLabel('quiet'), 'quiet');
  const deadline = Date.now() + 10_000;
  while (metrics.tenantLabel('busy') !== 'busy') {
    assert.ok(Date.now() < deadline, 'the busy tenant never got its own label');
    for (let i = 0; i < 50; i++)
      metrics.requestFinished({
        tenant: 'busy',
        deployment: 'd',
        status: 200,
        durationS: 0.001,
        cpuS: 0.001,
        cold: false,
      });
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  // traffic before the promotion stays under _other; from now on it is the tenant's own
  metrics.requestFinished({ tenant: 'busy', deployment: 'd', status: 200, durationS: 0.001, cpuS: 0.001, cold: false });
  const text = (await metrics.scrape()).body;
  assert.match(text, /islet_requests_total\{tenant="_other",status="200"\} [1-9]/);
  assert.doesNotMatch(text, /tenant="quiet"/, 'the demoted tenant kept its series');
  assert.match(text, /islet_requests_total\{tenant="busy",status="200"\} 1\n/);
});

test('a bad rebalance interval is refused with the option named', () => {
  assert.throws(() => new Metrics({ rebalanceIntervalMs: -1 }), /rebalanceIntervalMs must be a non-negative number/);
});
