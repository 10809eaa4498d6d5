// The admin API against a hostile caller: every route but /healthz (and the dashboard's static
// page) demands a token, odd tokens are refused without a server error, every JSON route caps
// its body, failed authentications are rate-limited per client address, and no answer ever
// carries a stack trace or a server path, even when the store under it is corrupt.
// Each test speaks from its own loopback source address (127.0.0.x), so the per-address failure
// counter of one test never leaks into another.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Agent, request } from 'undici';
import { startHarness, type Harness } from './serve-harness';
import { createAdminApi } from '../../server/admin/api';
import { AuthFailureLimiter } from '../../server/admin/auth-failures';
import { Logger } from '../../server/observe/server-log';

let h: Harness;
const agents: Agent[] = [];

before(async () => {
  h = await startHarness();
  await h.deploy('victim', 'echo.js');
  const put = await admin('127.0.0.2', 'PUT', '/v1/tenants/victim', { token: h.serving.operatorToken, json: { limits: { cpuMs: 100 } } });
  assert.equal(put.status, 200, put.text);
});
after(async () => {
  await Promise.all(agents.map((a) => a.close()));
  await h.close();
});

const agentsByAddress = new Map<string, Agent>();
function from(address: string): Agent {
  let agent = agentsByAddress.get(address);
  if (!agent) {
    agent = new Agent({ localAddress: address });
    agentsByAddress.set(address, agent);
    agents.push(agent);
  }
  return agent;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

async function admin(source: string, method: string, p: string, init: { token?: string; authorization?: string; json?: unknown; body?: string | Buffer | AsyncIterable<Buffer>; headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.authorization !== undefined) headers.authorization = init.authorization;
  else if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
  let body = init.body;
  if (init.json !== undefined) {
    body = JSON.stringify(init.json);
    headers['content-type'] ??= 'application/json';
  }
  const res = await request(`http://127.0.0.1:${h.serving.adminPort}${p}`, { method: method as 'GET', headers, body: body as string, dispatcher: from(source) });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

/** no stack frame, no server file or path, no Node internals in an answer meant for clients */
function assertNoLeak(reply: Reply, where: string): void {
  const leaks = [/\n\s+at /, /\bat [\w.<>]+ \(/, /\/work\//, /\/tmp\//, /dist\/server/, /node_modules/, /node:internal/, /\.[tj]s:\d+/];
  for (const leak of leaks) assert.ok(!leak.test(reply.text), `${where}: the answer shows ${leak}: ${reply.text.slice(0, 400)}`);
}

/** every route the admin port serves, read from the apps themselves so a new route is covered at once */
function adminRoutes(): { method: string; path: string }[] {
  const api = createAdminApi({
    store: h.serving.store,
    logger: new Logger('error', () => {}),
    operatorToken: 'unused',
    baseDomain: 'localhost',
    tenantPort: 1,
    logs: h.serving.logs,
    metrics: h.serving.metrics,
  });
  const seen = new Set<string>();
  const routes: { method: string; path: string }[] = [];
  for (const r of api.routes) {
    if (r.method === 'ALL' || r.path.includes('*') || r.path === '/healthz') continue;
    const concrete = r.path.replace(':tenant', 'victim').replace(/:id\b/, 'x1');
    const key = `${r.method} ${concrete}`;
    if (seen.has(key)) continue;
    seen.add(key);
    routes.push({ method: r.method, path: concrete });
  }
  return routes;
}

test('every admin route answers 401 without a token and with a wrong one (deploy API, logs, metrics)', async () => {
  const routes = adminRoutes();
  assert.ok(routes.length >= 15, `the route list was read from the apps (${routes.length} routes)`);
  for (const route of routes) {
    const bare = await admin('127.0.0.3', route.method, route.path, { json: route.method === 'GET' || route.method === 'DELETE' ? undefined : {} });
    assert.equal(bare.status, 401, `${route.method} ${route.path} without a token: ${bare.status} ${bare.text}`);
    assert.equal(JSON.parse(bare.text).error.code, 'UNAUTHORIZED');
    assert.match(String(bare.headers['www-authenticate']), /^Bearer/);
    // a different source for wrong tokens: this test makes more than one address's failure budget
    const wrong = await admin(`127.0.0.${10 + (routes.indexOf(route) % 200)}`, route.method, route.path, { token: 'islet_not-the-token' });
    assert.equal(wrong.status, 401, `${route.method} ${route.path} with a wrong token: ${wrong.status} ${wrong.text}`);
  }
  // and the operator token opens them (not 401/403: the route exists behind the guard)
  const list = await admin('127.0.0.3', 'GET', '/v1/tenants', { token: h.serving.operatorToken });
  assert.equal(list.status, 200);
  // /healthz stays open for health checks, and says nothing more than that
  const health = await admin('127.0.0.3', 'GET', '/healthz');
  assert.equal(health.status, 200);
  assert.deepEqual(JSON.parse(health.text), { ok: true });
});

test('the dashboard page is served without a token but carries no tenant data', async () => {
  const page = await admin('127.0.0.4', 'GET', '/');
  assert.equal(page.status, 200);
  assert.ok(!page.text.includes('victim'), 'no tenant name in the unauthenticated page');
  assert.match(String(page.headers['content-security-policy']), /default-src 'none'/);
});

test('odd Authorization headers are refused with 401, never a server error', async () => {
  const odd = ['', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'bearer  x  y', `Bearer ${'a'.repeat(8000)}`, 'Bearer \u00e9t\u00e9', `Bearer ${h.serving.operatorToken}x`, `Bearer ${h.serving.operatorToken.slice(0, -1)}`, 'Bearer null', 'Bearer undefined'];
  for (const [i, authorization] of odd.entries()) {
    const res = await admin(`127.0.1.${i + 1}`, 'GET', '/v1/tenants', { authorization });
    assert.equal(res.status, 401, `${JSON.stringify(authorization.slice(0, 40))}: ${res.status} ${res.text}`);
    assertNoLeak(res, 'odd authorization');
  }
  // the real token with different spacing and scheme case still works
  assert.equal((await admin('127.0.1.100', 'GET', '/v1/tenants', { authorization: `bearer   ${h.serving.operatorToken}  ` })).status, 200);
});

test('every JSON route caps its body at 1 MiB (declared or streamed): 413 PAYLOAD_TOO_LARGE', async () => {
  const token = h.serving.operatorToken;
  const big = JSON.stringify({ vars: { A: 'x'.repeat(1024 * 1024) } });
  const routes: [string, string][] = [
    ['PUT', '/v1/tenants/victim'],
    ['PATCH', '/v1/tenants/victim'],
    ['PUT', '/v1/tenants/victim/env'],
    ['POST', '/v1/tenants/victim/tokens'],
  ];
  for (const [method, p] of routes) {
    const declared = await admin('127.0.2.1', method, p, { token, body: big, headers: { 'content-type': 'application/json' } });
    assert.equal(declared.status, 413, `${method} ${p}: ${declared.text}`);
    assert.equal(JSON.parse(declared.text).error.code, 'PAYLOAD_TOO_LARGE');
    // chunked, no length: the server must count while reading and stop at the cap
    const streamed = await raw('127.0.2.1', `${method} ${p} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`, () => `10000\r\n${' '.repeat(0x10000)}\r\n`, 32);
    assert.match(streamed, /^HTTP\/1\.1 413 /, `${method} ${p} streamed`);
  }
  // nothing of it was applied
  const env = await admin('127.0.2.1', 'GET', '/v1/tenants/victim/env', { token });
  assert.deepEqual(JSON.parse(env.text).vars, {});
});

/**
 * Sends `head`, then up to `chunks` pieces of body from `chunk()` (one per event-loop turn) until
 * the server answers; resolves with what the server sent. A raw socket, because an HTTP client
 * reports a server that answers early and closes as a failed write rather than the answer.
 */
async function raw(source: string, head: string, chunk: () => string, chunks: number): Promise<string> {
  const socket = net.connect({ host: '127.0.0.1', port: h.serving.adminPort, localAddress: source });
  socket.on('error', () => {}); // the server may close while we still write: its answer is what counts
  await new Promise((resolve) => socket.once('connect', resolve));
  let text = '';
  const answered = new Promise<void>((resolve) => {
    socket.on('data', (d) => {
      text += d.toString();
      if (/\}\}\s*$/.test(text) || /\r\n0\r\n\r\n$/.test(text)) resolve();
    });
    socket.on('close', () => resolve());
  });
  socket.write(head);
  for (let i = 0; i < chunks && text === '' && !socket.destroyed; i++) {
    socket.write(chunk());
    await new Promise((r) => setImmediate(r));
  }
  await answered;
  socket.destroy();
  return text;
}

test('an upload declaring more than the upload limit is refused before its body is read', async () => {
  const answer = await raw(
    '127.0.2.2',
    `POST /v1/tenants/victim/deployments HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${h.serving.operatorToken}\r\ncontent-type: application/javascript\r\ncontent-length: ${1024 * 1024 * 1024}\r\n\r\n`,
    () => 'export default {}',
    1,
  );
  assert.match(answer, /^HTTP\/1\.1 413 /);
  assert.match(answer, /PAYLOAD_TOO_LARGE/);
});

test('failed authentication is rate-limited per address: 20 invalid tokens a minute, then 429 with Retry-After', async () => {
  const attacker = '127.0.3.1';
  for (let i = 0; i < 20; i++) {
    // the budget is shared by every guarded route: half on the deploy API, half on /metrics
    const res = await admin(attacker, 'GET', i % 2 ? '/metrics' : '/v1/tenants', { token: `guess-${i}` });
    assert.equal(res.status, 401, `guess ${i}`);
  }
  const refused = await admin(attacker, 'GET', '/v1/tenants', { token: 'guess-21' });
  assert.equal(refused.status, 429, refused.text);
  assert.equal(JSON.parse(refused.text).error.code, 'TOO_MANY_AUTH_FAILURES');
  const retryAfter = Number(refused.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After: ${refused.headers['retry-after']}`);
  // while refused, even a right guess is not checked (a guesser learns nothing)
  assert.equal((await admin(attacker, 'GET', '/v1/tenants', { token: h.serving.operatorToken })).status, 429);
  assert.equal((await admin(attacker, 'GET', '/v1/tenants/victim/logs', { token: 'guess-22' })).status, 429);
  // other addresses are not affected, with the right token or a wrong one
  assert.equal((await admin('127.0.3.2', 'GET', '/v1/tenants', { token: h.serving.operatorToken })).status, 200);
  assert.equal((await admin('127.0.3.2', 'GET', '/v1/tenants', { token: 'wrong' })).status, 401);
  // /healthz needs no token and is never refused
  assert.equal((await admin(attacker, 'GET', '/healthz')).status, 200);
});

test('successful authentications never count toward the failure budget', async () => {
  const client = '127.0.3.3';
  for (let i = 0; i < 40; i++) assert.equal((await admin(client, 'GET', '/v1/tenants', { token: h.serving.operatorToken })).status, 200);
  for (let i = 0; i < 20; i++) assert.equal((await admin(client, 'GET', '/v1/tenants', { token: `typo-${i}` })).status, 401, `failure ${i + 1} of 20`);
  assert.equal((await admin(client, 'GET', '/v1/tenants', { token: 'typo-21' })).status, 429);
});

test('the failure counter forgets failures past its window and stays bounded in addresses', () => {
  const limiter = new AuthFailureLimiter({ max: 3, windowMs: 1000, maxAddresses: 100 });
  for (let t = 0; t < 3; t++) limiter.recordFailure('a', 1000 + t);
  assert.equal(limiter.retryAfterMs('a', 1003), 997, 'refused until the oldest failure is 1 s old');
  assert.equal(limiter.retryAfterMs('b', 1003), 0);
  assert.equal(limiter.retryAfterMs('a', 1999), 1);
  assert.equal(limiter.retryAfterMs('a', 2000), 0, 'the first failure left the window: one more try allowed');
  limiter.recordFailure('a', 2000);
  assert.equal(limiter.retryAfterMs('a', 2000), 1, 'that try used it up again');
  assert.equal(limiter.retryAfterMs('a', 5000), 0, 'all forgotten after the window');
  for (let i = 0; i < 1000; i++) limiter.recordFailure(`addr-${i}`, 6000);
  assert.equal(limiter.size, 100, 'at most maxAddresses remembered');
});

test('internal errors (a corrupt store) answer a generic 500 with no stack trace or server path', async () => {
  const token = h.serving.operatorToken;
  // a tenant whose record on disk is garbage, and one whose deployment manifest is
  assert.equal((await admin('127.0.4.1', 'PUT', '/v1/tenants/broken', { token, json: {} })).status, 201);
  fs.writeFileSync(path.join(h.dataDir, 'tenants', 'broken', 'tenant.json'), '{"name": "broken", oops');
  const victimDeployments = path.join(h.dataDir, 'tenants', 'victim', 'deployments');
  const manifestFile = fs.readdirSync(victimDeployments).find((f) => f.endsWith('.json'))!;
  const original = fs.readFileSync(path.join(victimDeployments, manifestFile));
  fs.writeFileSync(path.join(victimDeployments, manifestFile), '\u0000not json');
  try {
    const probes: [string, string][] = [
      ['GET', '/v1/tenants'],
      ['GET', '/v1/tenants/broken'],
      ['PATCH', '/v1/tenants/broken'],
      ['GET', '/v1/tenants/broken/env'],
      ['GET', '/v1/tenants/broken/logs'],
      ['GET', `/v1/tenants/victim/deployments/${manifestFile.slice(0, -5)}`],
      ['GET', '/v1/tenants/victim/deployments'],
    ];
    let internal = 0;
    for (const [method, p] of probes) {
      const res = await admin('127.0.4.1', method, p, { token, json: method === 'PATCH' ? { limits: { cpuMs: 10 } } : undefined });
      assertNoLeak(res, `${method} ${p}`);
      const body = JSON.parse(res.text) as { error?: { code: string; message: string } };
      if (res.status >= 500) {
        internal++;
        assert.ok(body.error?.code, `${method} ${p}: a JSON error with a code`);
      }
    }
    assert.ok(internal >= 2, `the corrupt store did force internal errors (${internal})`);
    // the details went to the server log instead
    assert.ok(h.logs.some((r) => r.msg === 'admin request failed' && /JSON|Unexpected|token/i.test(String(r.error))), 'the server log has the cause');
  } finally {
    fs.writeFileSync(path.join(victimDeployments, manifestFile), original);
    fs.rmSync(path.join(h.dataDir, 'tenants', 'broken'), { recursive: true, force: true });
  }
});

test('malformed paths, names and bodies answer 4xx JSON errors with no stack trace', async () => {
  const token = h.serving.operatorToken;
  const probes: [string, string, string | undefined, string?][] = [
    ['GET', '/v1/tenants/%ZZ', undefined],
    ['GET', '/v1/tenants/%00', undefined],
    ['GET', '/v1/tenants/..%2F..%2Fetc', undefined],
    ['GET', `/v1/tenants/${'a'.repeat(5000)}`, undefined],
    ['GET', '/v1/tenants/victim/deployments/..%2F..%2Ftenant', undefined],
    ['DELETE', '/v1/tenants/victim/tokens/%2e%2e', undefined],
    ['PUT', '/v1/tenants/victim/env', '{"vars": {"__proto__": {"polluted": "yes"}}}'],
    ['PUT', '/v1/tenants/victim/env', '{"vars": {"constructor": {"prototype": 1}}}'],
    ['PUT', '/v1/tenants/victim/env', '[1, 2, 3]'],
    ['PUT', '/v1/tenants/victim/env', '{"vars": '],
    ['PUT', '/v1/tenants/victim/env', '\u0000\u0001'],
    ['PATCH', '/v1/tenants/victim', '{"limits": {"cpuMs": -1}}'],
    ['PATCH', '/v1/tenants/victim', '{"limits": {"cpuMs": 1e400}}'],
    ['PATCH', '/v1/tenants/victim', '{"limits": {"nope": 1}}'],
    ['PATCH', '/v1/tenants/victim', '{"limits": "fast"}'],
    ['POST', '/v1/tenants/victim/deployments?routes=%00', 'export default {}', 'application/javascript'],
    ['POST', '/v1/tenants/victim/deployments?compatibility=%7B', 'export default {}', 'application/javascript'],
    ['POST', '/v1/tenants/victim/deployments', 'garbage', 'multipart/form-data; boundary=x'],
    ['POST', '/v1/tenants/victim/deployments', 'garbage', 'application/gzip'],
    ['POST', '/v1/tenants/victim/deployments', 'garbage', 'text/html'],
  ];
  for (const [method, p, body, type] of probes) {
    const res = await admin('127.0.5.1', method, p, { token, body, headers: body === undefined ? {} : { 'content-type': type ?? 'application/json' } });
    assert.ok(res.status >= 400 && res.status < 500, `${method} ${p} ${JSON.stringify(body)}: ${res.status} ${res.text}`);
    assertNoLeak(res, `${method} ${p}`);
    assert.ok(JSON.parse(res.text).error.code, `${method} ${p}: a JSON error with a code`);
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  const env = await admin('127.0.5.1', 'GET', '/v1/tenants/victim/env', { token });
  assert.deepEqual(JSON.parse(env.text).vars, {});
});

test("a tenant's deploy token reaches nothing of another tenant and no operator-only route", async () => {
  const token = h.serving.operatorToken;
  assert.equal((await admin('127.0.6.1', 'PUT', '/v1/tenants/intruder', { token, json: {} })).status, 201);
  const created = await admin('127.0.6.1', 'POST', '/v1/tenants/intruder/tokens', { token, json: {} });
  assert.equal(created.status, 201, created.text);
  const { token: intruder, id } = JSON.parse(created.text) as { token: string; id: string };
  for (const route of adminRoutes()) {
    const res = await admin('127.0.6.2', route.method, route.path, { token: intruder, json: route.method === 'GET' || route.method === 'DELETE' ? undefined : {} });
    if (route.method === 'GET' && route.path === '/v1/tenants') {
      // the list is there, filtered to the token's own tenant
      assert.equal(res.status, 200);
      assert.deepEqual((JSON.parse(res.text) as { tenants: { name: string }[] }).tenants.map((t) => t.name), ['intruder']);
      continue;
    }
    if (route.method === 'GET' && route.path === '/v1/history') {
      // the history is there, of the token's own tenant only (and its sum)
      assert.equal(res.status, 200);
      assert.deepEqual(Object.keys((JSON.parse(res.text) as { tenants: object }).tenants).sort(), ['_all', 'intruder']);
      continue;
    }
    assert.equal(res.status, 403, `${route.method} ${route.path} with another tenant's token: ${res.status} ${res.text}`);
    assert.equal(JSON.parse(res.text).error.code, 'FORBIDDEN');
  }
  // on its own tenant, the operator-only routes stay closed too (limits, tokens, deleting the tenant)
  for (const [method, p] of [['PATCH', '/v1/tenants/intruder'], ['PUT', '/v1/tenants/intruder'], ['DELETE', '/v1/tenants/intruder'], ['POST', '/v1/tenants/intruder/tokens'], ['GET', '/v1/tenants/intruder/tokens']] as const) {
    const res = await admin('127.0.6.2', method, p, { token: intruder, json: method === 'GET' || method === 'DELETE' ? undefined : { limits: { cpuMs: 600000 } } });
    assert.equal(res.status, 403, `${method} ${p}: ${res.status} ${res.text}`);
  }
  // a revoked token stops working at once
  assert.equal((await admin('127.0.6.1', 'DELETE', `/v1/tenants/intruder/tokens/${id}`, { token })).status, 200);
  assert.equal((await admin('127.0.6.2', 'GET', '/v1/tenants/intruder/env', { token: intruder })).status, 401);
});
