// The tenant log hub as tenants and operators use it: JSON lines with tenant and request id,
// a bounded ring of recent lines per tenant, no line of one tenant visible to another, and the
// admin route that lists and follows a tenant's lines over real HTTP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { MiddlewareHandler } from 'hono';
import { Logger } from '../../server/observe/server-log';
import { logRoutes } from '../../server/admin/logs';
import { LogHub } from '../../server/observe/tenant-logs/hub';

function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new Logger('debug', (line) => lines.push(line)), lines };
}

test('tenant console output becomes one JSON line with tenant, deployment and request id', () => {
  const { logger, lines } = capture();
  const hub = new LogHub(logger);
  hub.tenantLog({
    level: 'log',
    message: 'hello "world"\nsecond line',
    tenant: 'shop',
    deployment: 'd1',
    requestId: 'r-1',
  });
  hub.tenantLog({ level: 'error', message: 'at top level', tenant: 'shop', deployment: 'd1' });
  assert.equal(lines.length, 2);
  const first = JSON.parse(lines[0]);
  assert.equal(first.level, 'info');
  assert.equal(first.msg, 'hello "world"\nsecond line');
  assert.equal(first.tenant, 'shop');
  assert.equal(first.deployment, 'd1');
  assert.equal(first.requestId, 'r-1');
  assert.equal(first.source, 'tenant');
  assert.equal(first.consoleLevel, 'log');
  assert.ok(!Number.isNaN(Date.parse(first.time)));
  const second = JSON.parse(lines[1]);
  assert.equal(second.level, 'error');
  assert.equal('requestId' in second, false, 'top-level output has no request id');
  // the ring holds exactly what went to stdout
  assert.deepEqual(hub.recent('shop'), lines);
});

test('one request line carries tenant, deployment, method, path, status, CPU, wall, cold and request id', () => {
  const { logger, lines } = capture();
  const hub = new LogHub(logger);
  hub.request({
    tenant: 'shop',
    deployment: 'd1',
    requestId: 'r-9',
    method: 'POST',
    path: '/cart?x=1',
    status: 503,
    cpuMs: 50.1234,
    wallMs: 61.5,
    cold: true,
  });
  const line = JSON.parse(lines[0]);
  assert.deepEqual(
    { ...line, time: undefined },
    {
      time: undefined,
      level: 'warn',
      msg: 'request',
      tenant: 'shop',
      deployment: 'd1',
      requestId: 'r-9',
      source: 'request',
      method: 'POST',
      path: '/cart?x=1',
      status: 503,
      cpuMs: 50.123,
      wallMs: 61.5,
      cold: true,
    },
  );
});

test('a limit cut is logged with request id, limit, measured value and stack', async () => {
  const { logger, lines } = capture();
  const hub = new LogHub(logger);
  await hub.limitExceeded({
    tenant: 'shop',
    deployment: 'd1',
    requestId: 'r-2',
    limit: 'cpu',
    measured: 52,
    stack: '    at spin (file:///index.js:3:9)',
  });
  const line = JSON.parse(lines[0]);
  assert.equal(line.level, 'warn');
  assert.equal(line.msg, 'cpu limit exceeded');
  assert.equal(line.limit, 'cpu');
  assert.equal(line.measured, 52);
  assert.equal(line.unit, 'ms');
  assert.equal(line.requestId, 'r-2');
  assert.equal(line.stack, '    at spin (file:///index.js:3:9)');
});

test("a tenant sees only its own lines, and server records never reach a tenant's ring", () => {
  const { logger } = capture();
  const hub = new LogHub(logger);
  hub.tenantLog({ level: 'log', message: 'mine', tenant: 'a', deployment: 'd', requestId: 'r' });
  hub.tenantLog({ level: 'log', message: 'theirs', tenant: 'b', deployment: 'd', requestId: 'r' });
  logger.info('isolate retired', { tenant: 'a', deployment: 'd', reason: 'idle' }); // internal: no tenant source
  // records written by other code with the tenant tags (the tenant layer's console sink) count
  logger.warn('from the sink', { source: 'tenant', tenant: 'a', deployment: 'd', consoleLevel: 'warn' });
  assert.deepEqual(
    hub.recent('a').map((l) => JSON.parse(l).msg),
    ['mine', 'from the sink'],
  );
  assert.deepEqual(
    hub.recent('b').map((l) => JSON.parse(l).msg),
    ['theirs'],
  );
  assert.deepEqual(hub.recent('nobody'), []);
});

test('the ring keeps the newest lines within its line and byte bounds', () => {
  const { logger } = capture();
  const hub = new LogHub(logger, { linesPerTenant: 5, bytesPerTenant: 100_000 });
  for (let i = 0; i < 23; i++) hub.tenantLog({ level: 'log', message: `n${i}`, tenant: 't', deployment: 'd' });
  assert.deepEqual(
    hub.recent('t').map((l) => JSON.parse(l).msg),
    ['n18', 'n19', 'n20', 'n21', 'n22'],
  );
  assert.deepEqual(
    hub.recent('t', 2).map((l) => JSON.parse(l).msg),
    ['n21', 'n22'],
  );

  const small = new LogHub(capture().logger, { linesPerTenant: 1000, bytesPerTenant: 2000 });
  for (let i = 0; i < 50; i++)
    small.tenantLog({ level: 'log', message: 'x'.repeat(300) + i, tenant: 't', deployment: 'd' });
  const kept = small.recent('t');
  assert.ok(kept.reduce((n, l) => n + l.length, 0) <= 2000);
  assert.ok(kept.length >= 3 && kept.length < 10);
  assert.match(JSON.parse(kept[kept.length - 1]).msg, /49$/);
});

test('an oversized console message is cut, saying how much was cut', () => {
  const { logger, lines } = capture();
  const hub = new LogHub(logger, { maxMessageChars: 10 });
  hub.tenantLog({ level: 'log', message: 'abcdefghijKLMNOP', tenant: 't', deployment: 'd' });
  assert.equal(JSON.parse(lines[0]).msg, 'abcdefghij... [6 more characters cut]');
});

// A real bearer-token check, standing in for the admin API's middleware the route is mounted with.
const auth: MiddlewareHandler = async (c, next) => {
  if (c.req.header('authorization') !== 'Bearer op-token') {
    return c.json({ error: { code: 'UNAUTHORIZED', message: 'missing or wrong bearer token' } }, 401);
  }
  await next();
};

async function listen(hub: LogHub, tenantExists?: (t: string) => Promise<boolean>) {
  const app = logRoutes(hub, { auth, tenantExists });
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        (server as unknown as { closeAllConnections(): void }).closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const bearer = { authorization: 'Bearer op-token' };

test('GET /v1/tenants/:tenant/logs returns recent lines as NDJSON, with auth and a checked limit', async (t) => {
  const { logger } = capture();
  const hub = new LogHub(logger);
  for (let i = 0; i < 5; i++)
    hub.tenantLog({ level: 'log', message: `m${i}`, tenant: 'shop', deployment: 'd', requestId: `r${i}` });
  const server = await listen(hub, async (name) => name === 'shop');
  t.after(() => server.close());

  assert.equal((await fetch(`${server.url}/v1/tenants/shop/logs`)).status, 401);
  const res = await fetch(`${server.url}/v1/tenants/shop/logs?limit=3`, { headers: bearer });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /application\/x-ndjson/);
  const lines = (await res.text())
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    lines.map((l) => l.msg),
    ['m2', 'm3', 'm4'],
  );
  assert.equal(lines[2].requestId, 'r4');

  const bad = await fetch(`${server.url}/v1/tenants/shop/logs?limit=abc`, { headers: bearer });
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'LOGS_INVALID_LIMIT');
  const missing = await fetch(`${server.url}/v1/tenants/ghost/logs`, { headers: bearer });
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'TENANT_NOT_FOUND');
});

test('follow=1 streams new lines as they are written, and stops following when the client leaves', async (t) => {
  const { logger } = capture();
  const hub = new LogHub(logger);
  hub.tenantLog({ level: 'log', message: 'before', tenant: 'shop', deployment: 'd' });
  const server = await listen(hub);
  t.after(() => server.close());
  const controller = new AbortController();
  const res = await fetch(`${server.url}/v1/tenants/shop/logs?follow=1&limit=10`, {
    headers: bearer,
    signal: controller.signal,
  });
  assert.equal(res.status, 200);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  const nextLine = async (): Promise<Record<string, unknown>> => {
    while (!buffered.includes('\n')) {
      const { value, done } = await reader.read();
      assert.equal(done, false, 'stream ended early');
      buffered += value;
    }
    const at = buffered.indexOf('\n');
    const line = buffered.slice(0, at);
    buffered = buffered.slice(at + 1);
    return JSON.parse(line);
  };
  assert.equal((await nextLine()).msg, 'before');
  hub.tenantLog({ level: 'warn', message: 'live one', tenant: 'shop', deployment: 'd', requestId: 'r7' });
  hub.tenantLog({ level: 'log', message: 'not yours', tenant: 'other-tenant', deployment: 'd' });
  hub.request({
    tenant: 'shop',
    deployment: 'd',
    requestId: 'r7',
    method: 'GET',
    path: '/',
    status: 200,
    cpuMs: 1,
    wallMs: 2,
    cold: false,
  });
  const live = await nextLine();
  assert.equal(live.msg, 'live one');
  assert.equal(live.requestId, 'r7');
  assert.equal((await nextLine()).msg, 'request');

  controller.abort();
  await reader.cancel().catch(() => {});
  // the server notices the closed connection and drops the follower
  const deadline = Date.now() + 5000;
  while (hub.followerCount('shop') > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    hub.tenantLog({ level: 'log', message: 'after', tenant: 'shop', deployment: 'd' });
  }
  assert.equal(hub.followerCount('shop'), 0, 'follower still subscribed after the client left');
});

test('a follower that reads too slowly loses lines, is told how many, and never makes the server buffer them', async () => {
  const hub = new LogHub(capture().logger);
  // room for five of these lines (all 'line N' with one digit are as long), not six
  const probe = new LogHub(capture().logger);
  probe.tenantLog({ level: 'log', message: 'line 0', tenant: 'shop', deployment: 'd' });
  const lineBytes = probe.recent('shop')[0]!.length + 1;
  const app = logRoutes(hub, { auth, followBacklogBytes: Math.floor(5.5 * lineBytes) });
  const res = await app.request('/v1/tenants/shop/logs?follow=1&limit=0', { headers: bearer });
  assert.equal(res.status, 200);
  for (let i = 0; i < 20; i++) hub.tenantLog({ level: 'log', message: `line ${i}`, tenant: 'shop', deployment: 'd' });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  const read = async (lines: number) => {
    while (text.split('\n').length - 1 < lines) text += (await reader.read()).value;
  };
  await read(5);
  hub.tenantLog({ level: 'log', message: 'line 20', tenant: 'shop', deployment: 'd' });
  await read(7);
  const records = text
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    records.slice(0, 5).map((r) => r.msg),
    ['line 0', 'line 1', 'line 2', 'line 3', 'line 4'],
  );
  assert.equal(records[5].msg, 'lines dropped');
  assert.equal(records[5].dropped, 15);
  assert.equal(records[6].msg, 'line 20');
  await reader.cancel();
  assert.equal(hub.followerCount('shop'), 0);
});

test('a follower that throws is dropped without breaking the logging call', () => {
  const { logger, lines } = capture();
  const hub = new LogHub(logger);
  hub.follow('shop', () => {
    throw new Error('stream closed');
  });
  hub.tenantLog({ level: 'log', message: 'still logged', tenant: 'shop', deployment: 'd' });
  hub.tenantLog({ level: 'log', message: 'and again', tenant: 'shop', deployment: 'd' });
  assert.equal(lines.length, 2);
  assert.equal(hub.followerCount('shop'), 0);
  assert.equal(hub.recent('shop').length, 2);
});

test("a quiet server log level keeps the tenant's lines off stdout but not out of the tenant's logs", () => {
  const lines: string[] = [];
  const hub = new LogHub(new Logger('warn', (line) => lines.push(line)));
  hub.tenantLog({ level: 'log', message: 'quiet info', tenant: 'shop', deployment: 'd', requestId: 'r1' });
  hub.tenantLog({ level: 'error', message: 'loud error', tenant: 'shop', deployment: 'd', requestId: 'r2' });
  assert.deepEqual(
    lines.map((l) => JSON.parse(l).msg),
    ['loud error'],
  );
  const kept = hub.recent('shop').map((l) => JSON.parse(l));
  assert.deepEqual(
    kept.map((r) => [r.msg, r.level, r.requestId]),
    [
      ['quiet info', 'info', 'r1'],
      ['loud error', 'error', 'r2'],
    ],
  );
  assert.equal(kept[0].tenant, 'shop');
});

test('closing the hub ends open follow streams, so a server shutting down is not held open', async () => {
  const hub = new LogHub(capture().logger);
  const app = logRoutes(hub, { auth });
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/tenants/shop/logs?follow=1`, {
    headers: bearer,
  });
  assert.equal(res.status, 200);
  while (hub.followerCount('shop') === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  hub.close();
  assert.equal(hub.followerCount('shop'), 0);
  // the client sees the end of the stream, and the server closes without forcing connections
  assert.equal(await res.text(), '');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  // following after close ends at once
  let ended = false;
  hub.follow(
    'shop',
    () => {},
    () => (ended = true),
  );
  assert.equal(ended, true);
});

test('memory over all tenants is bounded: the least recently written tenants lose their history first', () => {
  const hub = new LogHub(capture().logger, { bytesPerTenant: 4000, maxTotalBytes: 10_000 });
  const write = (tenant: string, n: number) => {
    for (let i = 0; i < n; i++) hub.tenantLog({ level: 'log', message: 'x'.repeat(200), tenant, deployment: 'd' });
  };
  write('quiet', 5);
  write('busy1', 40);
  write('busy2', 40);
  const bytes = (t: string) => hub.recent(t).reduce((n, l) => n + l.length, 0);
  assert.ok(bytes('busy1') <= 4000 && bytes('busy2') <= 4000, 'each tenant within its own bound');
  assert.ok(bytes('quiet') + bytes('busy1') + bytes('busy2') <= 10_000);
  write('busy3', 40);
  // three full tenants do not fit in 10 000 bytes: the one written longest ago goes
  assert.deepEqual(hub.recent('quiet'), []);
  assert.ok(hub.recent('busy3').length > 0);
  assert.ok(bytes('busy1') + bytes('busy2') + bytes('busy3') <= 10_000);
});
