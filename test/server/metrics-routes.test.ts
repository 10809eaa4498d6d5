// The admin routes of observability as the admin port serves them, behind the admin API's real
// auth middleware and store: the operator scrapes /metrics, a tenant's deploy token reads only
// that tenant's logs and never every tenant's metrics; the optional metrics port needs no token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { authMiddleware } from '../../server/admin/auth';
import { FsDeploymentStore } from '../../server/store/fs';
import { Logger } from '../../server/observe/server-log';
import { LogHub } from '../../server/observe/tenant-logs/hub';
import { logRoutes } from '../../server/admin/logs';
import { metricsRoutes, startMetricsServer } from '../../server/admin/metrics';
import { Metrics } from '../../server/observe/metrics/metrics';

async function setup(t: import('node:test').TestContext) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'islet-obs-routes-'));
  const store = new FsDeploymentStore(dir);
  const now = new Date().toISOString();
  for (const name of ['shop', 'blog']) await store.putTenant({ name, createdAt: now, active: null });
  const shopToken = `islet_${randomBytes(16).toString('hex')}`;
  await store.putToken({
    id: 'tok1',
    tenant: 'shop',
    hash: createHash('sha256').update(shopToken).digest('hex'),
    createdAt: now,
  });
  const metrics = new Metrics({ defaultMetrics: false, rebalanceIntervalMs: 0 });
  const logs = new LogHub(new Logger('info', () => {}));
  const auth = authMiddleware(store, 'operator-secret');
  const app = new Hono()
    .route('/', metricsRoutes(metrics, { auth }))
    .route('/', logRoutes(logs, { auth, tenantExists: async (name) => (await store.getTenant(name)) !== null }));
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  t.after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    logs.close();
    await store.close();
    await fs.rm(dir, { recursive: true, force: true });
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, metrics, logs, shopToken };
}

const as = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

async function errorOf(res: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await res.json()) as { error: { code: string; message: string } };
  return { status: res.status, code: body.error.code, message: body.error.message };
}

test('GET /metrics: the operator gets Prometheus text; no token is 401, a deploy token 403', async (t) => {
  const { url, metrics, shopToken } = await setup(t);
  metrics.requestFinished({ tenant: 'shop', deployment: 'd', status: 200, durationS: 0.01, cpuS: 0.001, cold: false });

  const ok = await fetch(`${url}/metrics`, as('operator-secret'));
  assert.equal(ok.status, 200);
  assert.match(ok.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  assert.match(await ok.text(), /^islet_requests_total\{(?=[^}]*tenant="shop")(?=[^}]*status="200")[^}]*\} 1$/m);

  const anonymous = await errorOf(await fetch(`${url}/metrics`));
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.code, 'UNAUTHORIZED');
  const wrong = await errorOf(await fetch(`${url}/metrics`, as('not-a-token')));
  assert.equal(wrong.status, 401);
  const tenant = await errorOf(await fetch(`${url}/metrics`, as(shopToken)));
  assert.deepEqual([tenant.status, tenant.code], [403, 'FORBIDDEN']);
  assert.match(tenant.message, /operator token/);
});

test("logs: a deploy token reads its own tenant's logs and no other's", async (t) => {
  const { url, logs, shopToken } = await setup(t);
  logs.tenantLog({ level: 'log', message: 'shop secret', tenant: 'shop', deployment: 'd', requestId: 'r1' });
  logs.tenantLog({ level: 'log', message: 'blog secret', tenant: 'blog', deployment: 'd', requestId: 'r2' });

  const own = await fetch(`${url}/v1/tenants/shop/logs`, as(shopToken));
  assert.equal(own.status, 200);
  const text = await own.text();
  assert.match(text, /shop secret/);
  assert.doesNotMatch(text, /blog secret/);

  const other = await errorOf(await fetch(`${url}/v1/tenants/blog/logs`, as(shopToken)));
  assert.deepEqual([other.status, other.code], [403, 'FORBIDDEN']);
  const followOther = await fetch(`${url}/v1/tenants/blog/logs?follow=1`, as(shopToken));
  assert.equal(followOther.status, 403);
  await followOther.body?.cancel();

  const operator = await fetch(`${url}/v1/tenants/blog/logs`, as('operator-secret'));
  assert.match(await operator.text(), /blog secret/);
  const missing = await errorOf(await fetch(`${url}/v1/tenants/ghost/logs`, as('operator-secret')));
  assert.deepEqual([missing.status, missing.code], [404, 'TENANT_NOT_FOUND']);
});

test('the separate metrics port serves /metrics without a token on 127.0.0.1, nothing else', async (t) => {
  const metrics = new Metrics({ defaultMetrics: false });
  metrics.coldStart('shop', 0.002);
  const server = await startMetricsServer(metrics, { port: 0 });
  t.after(() => server.close());
  const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
  assert.equal(res.status, 200);
  assert.match(await res.text(), /^islet_cold_starts_total\{tenant="shop"\} 1$/m);
  const other = await fetch(`http://127.0.0.1:${server.port}/v1/tenants/shop/logs`);
  assert.equal(other.status, 404);
  assert.equal(((await other.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
});

test('a port already taken is reported with the address', async (t) => {
  const first = await startMetricsServer(new Metrics({ defaultMetrics: false }), { port: 0 });
  t.after(() => first.close());
  await assert.rejects(
    startMetricsServer(new Metrics({ defaultMetrics: false }), { port: first.port }),
    new RegExp(`cannot listen on 127\\.0\\.0\\.1:${first.port}`),
  );
});
