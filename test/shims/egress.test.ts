// The egress guard and fetch(): inner addresses are refused after DNS and on redirects, the
// allow-list opens them for tests and private deployments, and subrequests have their caps.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { EgressGuard } from '../../server/host/egress';
import { EgressError } from '../../server/errors';
import { makeEvaluator, makeSandbox, loadModule, request, fetchText, runThrows, testLimits } from './helpers';

test('blocked ranges are refused, public addresses pass', () => {
  const guard = new EgressGuard({ allow: [] });
  const blocked = ['127.0.0.1', '127.8.9.10', '10.1.2.3', '100.64.0.1', '169.254.169.254', '172.16.0.1', '172.31.255.255', '192.168.1.1', '0.0.0.0', '224.0.0.1', '255.255.255.255',
    '::1', '::', 'fe80::1', 'fc00::1', 'fd00:ec2::254', 'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '::ffff:169.254.169.254', '64:ff9b::7f00:1', '2002:7f00:1::', '::127.0.0.1'];
  for (const address of blocked) assert.throws(() => guard.check('h.test', address), EgressError, address);
  for (const address of ['93.184.216.34', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '172.32.0.1', '100.128.0.1']) assert.doesNotThrow(() => guard.check('h.test', address), address);
});

test('the allow-list opens host names, single addresses and CIDRs', () => {
  const guard = new EgressGuard({ allow: ['internal.test', '10.0.0.5', '192.168.0.0/16', '::1'] });
  assert.doesNotThrow(() => guard.check('internal.test', '10.9.9.9'));
  assert.doesNotThrow(() => guard.check('x.test', '10.0.0.5'));
  assert.throws(() => guard.check('x.test', '10.0.0.6'), EgressError);
  assert.doesNotThrow(() => guard.check('x.test', '192.168.44.1'));
  assert.doesNotThrow(() => guard.check('x.test', '::1'));
  assert.throws(() => new EgressGuard({ allow: ['name/8'] }), /CIDR/);
});

test('DNS names resolving inward are refused (localhost)', async () => {
  const guard = new EgressGuard({ allow: [] });
  await assert.rejects(guard.resolve('localhost'), EgressError);
  await assert.rejects(guard.resolve('[::1]'), EgressError);
});

let server: http.Server;
let port = 0;
let aborted = 0;
before(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/json') {
      res.setHeader('content-type', 'application/json');
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.end(JSON.stringify({ method: req.method, ua: req.headers['x-tenant'] ?? null }));
    } else if (url.pathname === '/echo') {
      res.setHeader('x-length', String(req.headers['content-length'] ?? 'chunked'));
      req.pipe(res);
    } else if (url.pathname === '/redirect') {
      res.writeHead(302, { location: url.searchParams.get('to')! });
      res.end();
    } else if (url.pathname === '/gzip') {
      const body = zlib.gzipSync('compressed hello');
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': String(body.length), 'content-type': 'text/plain' });
      res.end(body);
    } else if (url.pathname === '/big') {
      res.end(Buffer.alloc(100000, 97));
    } else if (url.pathname === '/hang') {
      req.on('close', () => aborted++);
      res.writeHead(200);
      res.write('partial');
    } else if (url.pathname === '/short') {
      // announces 10 bytes, sends 5 and stalls: a small body that never completes
      req.on('close', () => aborted++);
      res.writeHead(200, { 'content-length': '10' });
      res.write('12345');
    } else res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

test('fetch to 127.0.0.1 is refused unless allowed', async () => {
  const closed = makeEvaluator();
  try {
    const err = await runThrows(closed, `await fetch('http://127.0.0.1:${port}/json')`);
    assert.equal(err.name, 'TypeError');
    assert.match(err.message, /refused: 127\.0\.0\.1 is a loopback/);
    const viaName = await runThrows(closed, `await fetch('http://localhost:${port}/json')`);
    assert.match(viaName.message, /refused/);
    assert.match((await runThrows(closed, `await fetch('file:///etc/passwd')`)).message, /only http: and https:/);
  } finally {
    closed.close();
  }
});

test('allowed fetch: headers out and in (set-cookie kept apart), JSON body, streamed request and response bodies', async () => {
  const e = makeEvaluator({ egress: { allow: ['127.0.0.1'] } });
  try {
    const value = await e.run(`
      const r = await fetch('http://127.0.0.1:${port}/json', { headers: { 'x-tenant': 't1' } });
      const json = await r.json();
      const body = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('part1,')); c.enqueue(new TextEncoder().encode('part2')); c.close(); } });
      const echo = await fetch('http://127.0.0.1:${port}/echo', { method: 'POST', body, duplex: 'half' });
      const chunks = [];
      for await (const chunk of echo.body) chunks.push(new TextDecoder().decode(chunk));
      const bytes = await (await fetch('http://127.0.0.1:${port}/echo', { method: 'POST', body: 'fixed' })).text();
      return [r.status, r.ok, r.headers.get('content-type'), r.headers.getSetCookie(), json, chunks.join(''), echo.headers.get('x-length'), bytes, r.url, r.type];`);
    assert.deepEqual(value, [200, true, 'application/json', ['a=1', 'b=2'], { method: 'GET', ua: 't1' }, 'part1,part2', 'chunked', 'fixed', `http://127.0.0.1:${port}/json`, 'basic']);
  } finally {
    e.close();
  }
});

test('a compressed upstream body arrives decoded, without a content-encoding that no longer applies', async () => {
  const e = makeEvaluator({ egress: { allow: ['127.0.0.1'] } });
  try {
    const value = await e.run(`const r = await fetch('http://127.0.0.1:${port}/gzip'); return [await r.text(), r.headers.get('content-encoding'), r.headers.get('content-length'), r.headers.get('content-type')];`);
    assert.deepEqual(value, ['compressed hello', null, null, 'text/plain']);
  } finally {
    e.close();
  }
});

test('a redirect to a refused address is refused; an allowed redirect is followed', async () => {
  const e = makeEvaluator({ egress: { allow: ['127.0.0.1'] } });
  try {
    const err = await runThrows(e, `await fetch('http://127.0.0.1:${port}/redirect?to=' + encodeURIComponent('http://[::1]:${port}/json'))`);
    assert.match(err.message, /refused/);
    const err2 = await runThrows(e, `await fetch('http://127.0.0.1:${port}/redirect?to=' + encodeURIComponent('http://169.254.169.254/latest/meta-data'))`);
    assert.match(err2.message, /refused/);
    const value = await e.run(`const r = await fetch('http://127.0.0.1:${port}/redirect?to=/json'); return [r.status, r.redirected, r.url];`);
    assert.deepEqual(value, [200, true, `http://127.0.0.1:${port}/json`]);
    const manual = await e.run(`const r = await fetch('http://127.0.0.1:${port}/redirect?to=/json', { redirect: 'manual' }); return r.status;`);
    assert.ok(manual === 302 || manual === 0, String(manual));
  } finally {
    e.close();
  }
});

test('subrequest caps: count per request, response size, time', async () => {
  const e = makeEvaluator({ egress: { allow: ['127.0.0.1'] }, limits: { ...testLimits, subrequests: 2, subrequestResponseBytes: 50000, subrequestTimeoutMs: 200 } });
  try {
    const count = await runThrows(e, `for (let i = 0; i < 3; i++) await (await fetch('http://127.0.0.1:${port}/')).text();`);
    assert.match(count.message, /too many subrequests/);
    const size = await runThrows(e, `await (await fetch('http://127.0.0.1:${port}/big')).arrayBuffer()`);
    assert.match(size.message, /passed the limit of 50000 bytes/);
    const slow = await runThrows(e, `const r = await fetch('http://127.0.0.1:${port}/hang'); await r.text();`);
    assert.equal(slow.name, 'TimeoutError');
  } finally {
    e.close();
  }
});

test('aborting a fetch rejects it with the signal reason and closes the connection', async () => {
  const e = makeEvaluator({ egress: { allow: ['127.0.0.1'] } });
  try {
    const before = aborted;
    const value = await e.run(`
      const c = new AbortController();
      const r = await fetch('http://127.0.0.1:${port}/hang', { signal: c.signal });
      const reader = r.body.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      c.abort();
      let name; try { await reader.read(); } catch (err) { name = err.name; }
      let early; try { await fetch('http://127.0.0.1:${port}/', { signal: AbortSignal.abort() }); } catch (err) { early = err.name; }
      return [first, name, early];`);
    assert.deepEqual(value, ['partial', 'AbortError', 'AbortError']);
    for (let i = 0; i < 50 && aborted === before; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(aborted, before + 1);
  } finally {
    e.close();
  }
});

test('an upstream body left unread when its request ends is closed', async () => {
  const t = makeSandbox({ egress: { allow: ['127.0.0.1'] } });
  try {
    loadModule(t, `export default { async fetch(request) {
      const upstream = await fetch('http://127.0.0.1:${port}/hang');
      return new Response('got ' + upstream.status + ', body left unread');
    } };`);
    const before = aborted;
    for (let i = 0; i < 3; i++) assert.equal((await fetchText(t, request('http://a.test/'))).text, 'got 200, body left unread');
    for (let i = 0; i < 100 && aborted < before + 3; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(aborted, before + 3);
    assert.equal(t.sandbox.inFlight, 0);
  } finally {
    t.close();
  }
});

test('a small upstream body (Content-Length up to 64 KB) arrives with the response: read any way, handed back as is, still under the time limit', async () => {
  const t = makeSandbox({ egress: { allow: ['127.0.0.1'] }, limits: { ...testLimits, subrequestTimeoutMs: 300 } });
  try {
    loadModule(t, `export default { async fetch(request) {
      const path = new URL(request.url).pathname;
      if (path === '/pass') return fetch('http://127.0.0.1:${port}/json');
      if (path === '/short') {
        try { await fetch('http://127.0.0.1:${port}/short'); return new Response('no error'); } catch (err) { return new Response(err.name); }
      }
      const a = await fetch('http://127.0.0.1:${port}/json');
      const reader = a.body.getReader();
      const chunks = [];
      for (;;) { const { done, value } = await reader.read(); if (done) break; chunks.push(...value); }
      const b = await fetch('http://127.0.0.1:${port}/');
      const bytes = new Uint8Array(await b.arrayBuffer());
      return Response.json([JSON.parse(new TextDecoder().decode(new Uint8Array(chunks))), bytes.length, b.headers.get('content-length'), a.bodyUsed]);
    } };`);
    assert.deepEqual(JSON.parse((await fetchText(t, request('http://a.test/read'))).text), [{ method: 'GET', ua: null }, 2, '2', true]);
    const passed = await fetchText(t, request('http://a.test/pass'));
    assert.equal(passed.status, 200);
    assert.deepEqual(JSON.parse(passed.text), { method: 'GET', ua: null });
    const before = aborted;
    assert.equal((await fetchText(t, request('http://a.test/short'))).text, 'TimeoutError');
    for (let i = 0; i < 50 && aborted === before; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(aborted, before + 1, 'the stalled upstream connection was closed');
    assert.equal(t.sandbox.inFlight, 0);
  } finally {
    t.close();
  }
});
