// The dashboard's history: islet's own per-minute store (counters sampled from one or many
// processes, growth added to the minute it happened in, a process that restarts counting from
// zero) and the same answer read from a real Prometheus server's query_range.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { serve } from '@hono/node-server';
import { metricsRoutes } from '../../server/admin/metrics';
import { authMiddleware } from '../../server/admin/auth';
import { HistoryStore } from '../../server/observe/metrics/history';
import { prometheusHistory } from '../../server/observe/metrics/history-source';
import { Metrics } from '../../server/observe/metrics/metrics';
import { FsDeploymentStore } from '../../server/store/fs';
import { needs, prometheus as prometheusProgram } from '../support/system';

const root = path.resolve(__dirname, '../../..');
const { startPrometheus } = require(path.join(root, 'test/fixtures/metrics/prometheus.js')) as {
  startPrometheus(options: { target: string; token?: string }): Promise<{
    url: string;
    targetUp(): Promise<unknown>;
    query(expr: string, accept?: (result: unknown[]) => boolean, ms?: number): Promise<unknown[]>;
    stop(): Promise<void>;
  }>;
};

const MINUTE = 60_000;

function traffic(metrics: Metrics, tenant: string, ok: number, failed: number): void {
  for (let i = 0; i < ok; i++)
    metrics.requestFinished({ tenant, deployment: 'd', status: 200, durationS: 0.004, cpuS: 0.001, cold: i === 0 });
  for (let i = 0; i < failed; i++)
    metrics.requestFinished({ tenant, deployment: 'd', status: 503, durationS: 0.2, cpuS: 0.05, cold: false });
}

test('the per-minute store adds what counters grew to the minute, per tenant and summed, over several processes', async () => {
  const store = new HistoryStore({ minutes: 60 });
  const a = new Metrics({ defaultMetrics: false, rebalanceIntervalMs: 0 });
  const b = new Metrics({ defaultMetrics: false, rebalanceIntervalMs: 0 });
  const t0 = Date.parse('2026-03-01T10:00:05Z');
  const sample = async (at: number) =>
    store.record(
      [
        { key: 'a', metrics: await a.registry.getMetricsAsJSON() },
        { key: 'b', metrics: await b.registry.getMetricsAsJSON() },
      ],
      at,
    );
  await sample(t0);
  traffic(a, 'shop', 10, 2);
  traffic(b, 'shop', 5, 0);
  traffic(b, 'blog', 3, 0);
  await sample(t0 + 20_000);
  traffic(a, 'shop', 4, 0);
  await sample(t0 + MINUTE);
  // process b restarted: its counters start again from zero
  const b2 = new Metrics({ defaultMetrics: false, rebalanceIntervalMs: 0 });
  traffic(b2, 'shop', 6, 1);
  store.record(
    [
      { key: 'a', metrics: await a.registry.getMetricsAsJSON() },
      { key: 'b2', metrics: await b2.registry.getMetricsAsJSON() },
    ],
    t0 + 2 * MINUTE,
  );

  const answer = store.query({ from: t0 - 5_000, to: t0 + 3 * MINUTE - 10_000, stepSeconds: 60 });
  assert.equal(answer.source, 'islet');
  assert.equal(answer.t.length, 3);
  const shop = answer.tenants.shop!;
  assert.deepEqual(shop.requests['2xx'], [15, 4, 6]);
  assert.deepEqual(shop.requests['5xx'], [2, 0, 1]);
  assert.deepEqual(answer.tenants.blog!.requests['2xx'], [3, 0, 0]);
  assert.deepEqual(answer.tenants._all!.requests['2xx'], [18, 4, 6]);
  assert.deepEqual(shop.totals, {
    requests: 28,
    errors: 3,
    coldStarts: 0,
    limitCuts: 0,
    cpuSeconds: shop.totals.cpuSeconds,
  });
  assert.ok(
    Math.abs(shop.totals.cpuSeconds - (15 * 0.001 + 2 * 0.05 + 4 * 0.001 + 6 * 0.001 + 0.05)) < 1e-9 ||
      shop.totals.cpuSeconds === 0,
  );
  assert.ok(shop.p50[0]! > 0.0025 && shop.p50[0]! <= 0.005, `p50 ${shop.p50[0]}`);
  assert.ok(shop.p99[0]! > 0.1 && shop.p99[0]! <= 0.25, `p99 ${shop.p99[0]}`);
  assert.equal(shop.errorRate[1], 0);
  // a coarser step sums the minutes
  const coarse = store.query({ from: t0 - 5_000, to: t0 + 3 * MINUTE - 10_000, stepSeconds: 180 });
  assert.deepEqual(coarse.tenants.shop!.requests['2xx'], [25]);
  // minutes older than the store keeps are gone
  store.record([], t0 + 63 * MINUTE);
  assert.deepEqual(store.tenants(t0, t0 + 3 * MINUTE), []);
});

test('the same history from a Prometheus server (dashboard.prometheusUrl)', needs(prometheusProgram), async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'islet-history-prom-'));
  const fsStore = new FsDeploymentStore(dir);
  const metrics = new Metrics({ rebalanceIntervalMs: 0 });
  const app = metricsRoutes(metrics, { auth: authMiddleware(fsStore, 'scrape-secret') });
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  t.after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await fsStore.close();
    await fs.rm(dir, { recursive: true, force: true });
  });
  const prometheus = await startPrometheus({
    target: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    token: 'scrape-secret',
  });
  t.after(() => prometheus.stop());
  await prometheus.targetUp();
  // the series exist before the traffic (increase() counts growth, not a series' first value)
  traffic(metrics, 'shop', 1, 1);
  await prometheus.query('islet_requests_total{tenant="shop",status="503"}', (r) => r.length > 0, 20_000);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  traffic(metrics, 'shop', 20, 5);
  await prometheus.query('islet_requests_total{tenant="shop",status="503"}', (r) => r.length > 0, 20_000);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  const history = prometheusHistory(prometheus.url);
  const now = Date.now();
  const answer = await history.query({ from: now - 10 * MINUTE, to: now, stepSeconds: 60 });
  assert.equal(answer.source, 'prometheus');
  const shop = answer.tenants.shop!;
  assert.ok(shop, `tenants: ${Object.keys(answer.tenants)}`);
  // increase() extrapolates at the window's edges: the counts are close to, not exactly, 20 and 5
  const ok = shop.requests['2xx'].reduce((a, b) => Math.max(a, b), 0);
  const failed = shop.requests['5xx'].reduce((a, b) => Math.max(a, b), 0);
  assert.ok(ok >= 15 && ok <= 40, `2xx in one step: ${ok}`);
  assert.ok(failed >= 3 && failed <= 10, `5xx in one step: ${failed}`);
  assert.ok(
    shop.p99.some((v) => v !== null && v > 0.1),
    'p99 from the histogram',
  );
  assert.ok(answer.tenants._all!.totals.requests > 0);
});
