// Service bindings through a real islet: env.OTHER.fetch() runs the request in another tenant
// without the network, under the callee's own limits, metrics and logs, and counts in the
// caller's subrequests; the callee must list the caller; a loop is cut at the depth limit and the
// client of the request that started it gets 508 `islet-error: loop`. Also passThroughOnException:
// a request whose function throws after asking for it is answered by the tenant's origin.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { deployProject, setBindings } from './bindings-helpers';
import { type Harness, startHarness } from './serve-harness';

let h: Harness;
let origin: http.Server;
let originUrl = '';
const originSaw: { method: string; url: string; body: string; host: string }[] = [];

before(async () => {
  // the tenants' origin: a local server on 127.0.0.2, which only the egress allow-list opens
  origin = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      originSaw.push({
        method: req.method!,
        url: req.url!,
        body: Buffer.concat(chunks).toString(),
        host: req.headers.host ?? '',
      });
      res.writeHead(203, { 'x-origin': 'yes', 'content-type': 'text/plain' });
      res.end(`origin answered ${req.method} ${req.url}`);
    });
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.2', resolve));
  originUrl = `http://127.0.0.2:${(origin.address() as AddressInfo).port}`;
  h = await startHarness((config) => {
    config.egress.allow = ['127.0.0.2'];
    config.tenants.callee = { limits: { cpuMs: 30 } };
  });
});
after(async () => {
  await h.close();
  await new Promise((resolve) => origin.close(resolve));
});

const callee = `
export default {
  async fetch(request) {
    const url = new URL(request.url);
    console.log('callee saw ' + request.method + ' ' + url.pathname);
    if (url.pathname === '/spin') for (;;) {}
    if (url.pathname === '/big') return new Response(new Uint8Array(300000).fill(7));
    if (url.pathname === '/throw') throw new Error('callee failed');
    const body = request.body ? await request.text() : '';
    return new Response('callee: ' + request.method + ' ' + url.pathname + ' ' + body.length + ' ' + request.headers.get('x-from'), {
      headers: { 'x-callee': '1' },
    });
  },
};
`;

const caller = `
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const target = 'https://callee.internal' + url.pathname + url.search;
    try {
      if (url.pathname === '/post') {
        const res = await env.CALLEE.fetch(target, { method: 'POST', body: 'x'.repeat(100000), headers: { 'x-from': 'caller' } });
        return new Response(await res.text(), { status: res.status });
      }
      if (url.pathname === '/twice') {
        const a = await env.CALLEE.fetch(target);
        await a.text();
        const b = await env.CALLEE.fetch(target);
        return new Response('second: ' + b.status);
      }
      const res = await env.CALLEE.fetch(new Request(target, { headers: { 'x-from': 'caller' } }));
      const text = await res.text();
      return new Response(res.status + ' ' + text.length + ' ' + text.slice(0, 80), {
        headers: { 'x-callee': res.headers.get('x-callee') ?? '', 'x-islet-error': res.headers.get('islet-error') ?? '' },
      });
    } catch (e) {
      return new Response(e.name + ': ' + e.message, { status: 502 });
    }
  },
};
`;

test('env.OTHER.fetch() runs the request in the other tenant, with its own logs and metrics', async () => {
  await setBindings(h, 'callee', { callers: ['caller'] });
  await deployProject(h, 'callee', { 'index.js': callee });
  await setBindings(h, 'caller', { services: [{ binding: 'CALLEE', service: 'callee' }] });
  await deployProject(h, 'caller', { 'index.js': caller });
  const from = h.logs.length;
  const res = await h.get('caller.localhost', '/hello?q=1');
  assert.equal(res.status, 200, res.text);
  assert.equal(res.text, '200 27 callee: GET /hello 0 caller');
  assert.equal(res.headers['x-callee'], '1');
  const posted = await h.get('caller.localhost', '/post');
  assert.equal(posted.text, 'callee: POST /post 100000 caller', 'a 100 KB body streamed to the callee');
  const big = await h.get('caller.localhost', '/big');
  assert.match(big.text, /^200 300000 /, 'a 300 KB answer streamed back');
  const lines = h.logs.slice(from);
  assert.ok(lines.some((r) => r.source === 'tenant' && r.tenant === 'callee' && r.msg === 'callee saw GET /hello'));
  assert.ok(lines.some((r) => r.source === 'request' && r.tenant === 'callee' && r.path === '/hello?q=1'));
  const scrape = (await h.serving.metrics.scrape()).body;
  assert.match(scrape, /islet_requests_total\{tenant="callee",status="200"\} 3/);
  assert.match(scrape, /islet_service_calls_total\{tenant="caller",status="200"\} 3/);
});

test("the callee's limits apply to it: a runaway callee is cut for CPU and the caller gets islet's answer", async () => {
  const res = await h.get('caller.localhost', '/spin');
  assert.equal(res.status, 200, res.text);
  assert.match(res.text, /^503 /);
  assert.equal(res.headers['x-islet-error'], 'cpu');
  const thrown = await h.get('caller.localhost', '/throw');
  assert.match(thrown.text, /^500 /);
  await h.waitForLog((r) => r.source === 'limit' && r.tenant === 'callee' && r.limit === 'cpu');
});

test("a service call counts as one of the caller's subrequests", async () => {
  await h.serving.store.putTenant({ ...(await h.serving.store.getTenant('caller'))!, limits: { subrequests: 1 } });
  await new Promise((r) => setTimeout(r, 1500));
  const res = await h.get('caller.localhost', '/twice');
  assert.equal(res.status, 502);
  assert.match(res.text, /too many subrequests \(the limit is 1 per request\)/);
  await h.serving.store.putTenant({ ...(await h.serving.store.getTenant('caller'))!, limits: {} });
});

test('a callee that does not list the caller refuses it with a clear error', async () => {
  await setBindings(h, 'stranger', { services: [{ binding: 'CALLEE', service: 'callee' }] });
  await deployProject(h, 'stranger', { 'index.js': caller });
  const res = await h.get('stranger.localhost', '/hello');
  assert.equal(res.status, 502);
  assert.equal(
    res.text,
    "Error: service binding: tenant 'callee' does not accept calls from 'stranger' " +
      '(the callee lists who may call it in its bindings: "callers": ["stranger"])',
  );
});

test('a service binding loop is cut at the depth limit: the client gets 508 islet-error: loop', async () => {
  await setBindings(h, 'ping', { services: [{ binding: 'NEXT', service: 'pong' }], callers: ['pong'] });
  await setBindings(h, 'pong', { services: [{ binding: 'NEXT', service: 'ping' }], callers: ['ping'] });
  const hop = `export default { async fetch(request, env) { return env.NEXT.fetch(request); } };`;
  await deployProject(h, 'ping', { 'index.js': hop });
  await deployProject(h, 'pong', { 'index.js': hop });
  const res = await h.get('ping.localhost', '/loop');
  assert.equal(res.status, 508, res.text);
  assert.equal(res.headers['islet-error'], 'loop');
  assert.match(res.text, /service binding loop/);
  const self = `export default { async fetch(request, env) { try { return await env.SELF.fetch(request); } catch (e) { return new Response(e.message, { status: 502 }); } } };`;
  await setBindings(h, 'selfie', { services: [{ binding: 'SELF', service: 'selfie' }], callers: ['selfie'] });
  await deployProject(h, 'selfie', { 'index.js': self });
  const again = await h.get('selfie.localhost', '/');
  assert.equal(again.status, 508);
  assert.equal(again.headers['islet-error'], 'loop');
  assert.equal((await h.get('callee.localhost', '/ok')).status, 200, 'the others keep serving');
});

const thrower = (pass: boolean) => `
export default {
  async fetch(request, env, ctx) {
    ${pass ? 'ctx.passThroughOnException();' : ''}
    if (request.method === 'POST') await request.text();
    throw new Error('the function failed');
  },
};
`;

test("passThroughOnException: a throwing function's request is answered by its origin", async () => {
  await setBindings(h, 'passer', { origin: `${originUrl}/base` });
  await deployProject(h, 'passer', { 'index.js': thrower(true) });
  const res = await h.get('passer.localhost', '/page?x=1');
  assert.equal(res.status, 203, res.text);
  assert.equal(res.headers['x-origin'], 'yes');
  assert.equal(res.text, 'origin answered GET /base/page?x=1');
  const posted = await h.get('passer.localhost', '/form', {
    method: 'POST',
    body: 'a=1&b=2',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(posted.status, 203);
  assert.deepEqual(originSaw.at(-1), { method: 'POST', url: '/base/form', body: 'a=1&b=2', host: originUrl.slice(7) });
  await h.waitForLog((r) => r.source === 'exception' && r.tenant === 'passer');
});

test('without passThroughOnException, or without an origin, a throwing function answers 500', async () => {
  await setBindings(h, 'nopass', { origin: originUrl });
  await deployProject(h, 'nopass', { 'index.js': thrower(false) });
  assert.equal((await h.get('nopass.localhost', '/')).status, 500);
  await deployProject(h, 'noorigin', { 'index.js': thrower(true) });
  assert.equal((await h.get('noorigin.localhost', '/')).status, 500);
});

test('an origin the egress guard refuses is not reached: 500', async () => {
  await setBindings(h, 'badorigin', { origin: 'http://127.0.0.1:9/' });
  await deployProject(h, 'badorigin', { 'index.js': thrower(true) });
  const res = await h.get('badorigin.localhost', '/');
  assert.equal(res.status, 500);
  await h.waitForLog((r) => r.msg === 'passThroughOnException: the origin did not answer' && r.tenant === 'badorigin');
});
