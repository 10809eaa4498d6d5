// A real Prometheus server scrapes islet's admin /metrics route with the operator's bearer
// token: the target is up and a query over islet_requests_total returns the tenant's series
// with the values islet recorded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { authMiddleware } from '../../server/admin/auth';
import { FsDeploymentStore } from '../../server/store/fs';
import { Logger } from '../../server/observe/server-log';
import { LogHub } from '../../server/observe/tenant-logs/hub';
import { metricsRoutes } from '../../server/admin/metrics';
import { Metrics } from '../../server/observe/metrics/metrics';

const root = path.resolve(__dirname, '../../..');
interface Series {
  metric: Record<string, string>;
  value: [number, string];
}
interface Prometheus {
  targetUp(ms?: number): Promise<{ health: string; lastError: string }>;
  query(expr: string, accept?: (result: Series[]) => boolean, ms?: number): Promise<Series[]>;
  stop(): Promise<void>;
}
// the helper is shared with the end-to-end test (test/fixtures/metrics/prometheus.js)
const { startPrometheus } = require(path.join(root, 'test/fixtures/metrics/prometheus.js')) as {
  startPrometheus(options: { target: string; token?: string }): Promise<Prometheus>;
};

test('Prometheus scrapes the admin /metrics route with the bearer token and sees the tenant series', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'islet-prom-'));
  const store = new FsDeploymentStore(dir);
  const metrics = new Metrics({ rebalanceIntervalMs: 0 });
  const logs = new LogHub(new Logger('info', () => {}));
  const app = metricsRoutes(metrics, { auth: authMiddleware(store, 'scrape-secret') });
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    logs.close();
    await store.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  for (let i = 0; i < 7; i++)
    metrics.requestFinished({
      tenant: 'shop',
      deployment: 'd',
      status: 200,
      durationS: 0.01,
      cpuS: 0.001,
      cold: i === 0,
    });
  metrics.requestFinished({ tenant: 'shop', deployment: 'd', status: 503, durationS: 0.06, cpuS: 0.05, cold: false });
  metrics.limitExceeded('shop', 'cpu');

  const prometheus = await startPrometheus({ target, token: 'scrape-secret' });
  t.after(() => prometheus.stop());
  const up = await prometheus.targetUp();
  assert.equal(up.health, 'up');
  const ok = await prometheus.query('islet_requests_total{tenant="shop",status="200"}');
  assert.equal(ok.length, 1);
  assert.equal(ok[0].metric.job, 'islet');
  assert.equal(Number(ok[0].value[1]), 7);
  const all = await prometheus.query('sum by (tenant) (islet_requests_total)');
  assert.deepEqual(
    all.map((r) => [r.metric.tenant, Number(r.value[1])]),
    [['shop', 8]],
  );
  const cut = await prometheus.query('islet_limit_exceeded_total{tenant="shop",limit="cpu"}');
  assert.equal(Number(cut[0].value[1]), 1);
});
