// The tenant log ring and its search: bounded in bytes (a busy tenant's short request lines fill
// minutes, not a thousand lines), and the filters of GET /v1/tenants/{t}/logs: level, status,
// method, text and time, with a request's console lines following their request.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Logger } from '../../server/observe/server-log';
import { LogHub } from '../../server/observe/tenant-logs/hub';
import { FollowFilter, LogFilterError, parseLogQuery, parseTime } from '../../server/observe/tenant-logs/query';

const query = (params: Record<string, string>) => parseLogQuery(params, { maxLimit: 10_000, defaultLimit: 100 });

function hubWith(requests: number, bytesPerTenant = 8 << 20): LogHub {
  const hub = new LogHub(new Logger('info', () => {}), { bytesPerTenant });
  for (let i = 0; i < requests; i++) {
    const requestId = `r${i}`;
    const failed = i % 10 === 9;
    hub.tenantLog({
      level: failed ? 'error' : 'log',
      message: failed ? `boom ${i}` : `handled ${i}`,
      tenant: 'shop',
      deployment: 'd1',
      requestId,
    });
    hub.request({
      tenant: 'shop',
      deployment: 'd1',
      requestId,
      method: i % 3 === 0 ? 'POST' : 'GET',
      path: `/item/${i}`,
      status: failed ? 500 : 200,
      cpuMs: 0.1,
      wallMs: 0.4,
      cold: false,
    });
  }
  return hub;
}

test('the ring is bounded in bytes, not lines: 8 MiB keeps tens of thousands of request lines', () => {
  const hub = hubWith(20_000);
  const kept = hub.recent('shop');
  assert.equal(kept.length, 40_000, 'every line of 20,000 requests is kept');
  const small = hubWith(20_000, 1 << 20);
  const bytes = small.recent('shop').reduce((n, l) => n + l.length, 0);
  assert.ok(bytes <= 1 << 20, `${bytes} bytes kept`);
  assert.match(small.recent('shop', 1)[0]!, /\/item\/19999/, 'the newest line is kept');
});

test('search: status, method, level and text, newest first up to the limit, returned oldest first', async () => {
  const hub = hubWith(100);
  const failed = await hub.search('shop', query({ status: 'error' }));
  // 10 failed requests: each its request line and the console line that came before it
  assert.equal(failed.length, 20);
  assert.ok(failed.every((l) => /"status":500|boom/.test(l)));
  assert.match(failed[0]!, /boom 9/, 'oldest first');
  const posts = await hub.search('shop', query({ method: 'post', status: 'ok' }));
  assert.ok(posts.length > 0 && posts.every((l) => JSON.parse(l).requestId.slice(1) % 3 === 0));
  const errors = await hub.search('shop', query({ level: 'error' }));
  assert.equal(errors.length, 10);
  const text = await hub.search('shop', query({ q: 'ITEM/42' }));
  assert.deepEqual(
    text.map((l) => JSON.parse(l).path),
    ['/item/42'],
  );
  const last = await hub.search('shop', query({ status: '5xx', limit: '2' }));
  assert.deepEqual(
    last.map((l) => JSON.parse(l).requestId),
    ['r99', 'r99'],
  );
});

test('search: a time range, by ISO time or by age', async () => {
  const hub = hubWith(10);
  const first = JSON.parse(hub.recent('shop')[0]!).time as string;
  const later = new Date(Date.parse(first) + 60_000).toISOString();
  assert.equal((await hub.search('shop', query({ since: first }))).length, 20);
  assert.equal((await hub.search('shop', query({ since: later }))).length, 0);
  assert.equal((await hub.search('shop', query({ until: first }))).length, 0);
  assert.equal((await hub.search('shop', query({ until: later }))).length, 20);
  assert.equal(parseTime('since', '15m', Date.parse('2026-01-01T01:00:00Z')), '2026-01-01T00:45:00.000Z');
  assert.equal((await hub.search('shop', query({ since: '1h' }))).length, 20);
});

test('bad filters say what was wrong', () => {
  for (const [params, pattern] of [
    [{ status: 'fine' }, /status="fine": expected ok, error, 1xx-5xx or a status code/],
    [{ level: 'loud' }, /level="loud": expected debug, info, warn or error/],
    [{ since: 'yesterday-ish' }, /since="yesterday-ish" is not a time/],
    [{ method: 'GE T' }, /is not an HTTP method/],
    [{ limit: '20000' }, /limit="20000" must be an integer from 0 to 10000/],
  ] as const) {
    assert.throws(
      () => query(params as Record<string, string>),
      (e: unknown) => e instanceof LogFilterError && pattern.test(e.message),
    );
  }
});

test("a follower with a status filter gets a request's console lines once its request line says it matched", () => {
  const filter = new FollowFilter(query({ status: 'error' }));
  const line = (r: object) => JSON.stringify({ time: new Date().toISOString(), level: 'info', tenant: 'shop', ...r });
  assert.deepEqual(filter.push(line({ source: 'tenant', requestId: 'a', msg: 'start a' })), []);
  assert.deepEqual(filter.push(line({ source: 'tenant', requestId: 'b', msg: 'start b' })), []);
  assert.deepEqual(filter.push(line({ source: 'request', requestId: 'a', method: 'GET', path: '/', status: 200 })), []);
  const out = filter.push(line({ source: 'request', requestId: 'b', method: 'GET', path: '/', status: 503 }));
  assert.deepEqual(
    out.map((l) => JSON.parse(l).msg ?? JSON.parse(l).status),
    ['start b', 503],
  );
  // a limit cut is an error outcome at once
  assert.equal(filter.push(line({ source: 'limit', requestId: 'c', msg: 'cpu limit exceeded' })).length, 1);
});
