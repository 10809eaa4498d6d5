// The hostile-tenant suite. Every case deploys an attacker through the admin API to a real islet
// while a neighbour tenant is asked continuously; each ends with the server alive, every
// neighbour request answered 200 'neighbour ok', and the attacker's request answered as below.
//
// | case                                          | the attacker gets                                   |
// |-----------------------------------------------|-----------------------------------------------------|
// | infinite loop                                 | 503, islet-error: cpu                               |
// | catastrophic regexp                           | 503, islet-error: cpu                               |
// | endless microtasks (promise chain, queue)     | 503, islet-error: cpu                               |
// | deep recursion (uncaught RangeError)          | 500 with islet-request-id (a tenant exception)      |
// | recursion that catches its stack overflows    | 503, islet-error: cpu                               |
// | heap: objects / strings / arrays              | 503, islet-error: memory; next request: new isolate |
// | heap: ArrayBuffers                            | 503, islet-error: memory                            |
// | heap: WebAssembly memory                      | 503, islet-error: memory                            |
// | Promise flood (never settled, all kept)       | 503, islet-error: memory                            |
// | timer flood (endless setTimeout)              | 503, islet-error: cpu                               |
// | timers left behind by a finished request      | 200; they never fire after the request ended        |
// | log flood                                     | 200; the tenant's log output stays under logBytes   |
// | huge response (stream past responseBodyBytes) | 200 headers, body cut short (connection aborted)    |
// | huge response (one buffer past the limit)     | 503, islet-error: body                              |
// | slow-loris response (trickles forever)        | 200 headers, body cut at the wall limit (log: wall) |
// | subrequest flood (serial and parallel)        | 200; fetch() past the cap rejects, upstream sees cap |
// | fetch to loopback/private/metadata/mapped/DNS | 200; every fetch() rejects, the listener sees none  |
// | redirect from an allowed host to loopback     | 200; fetch() rejects, the listener sees none        |
// | reach the bridge, Node, the file system       | 200; nothing found (globals, stack frames, caller)  |
// | import('node:fs') / static node: import       | 200 (rejected promise) / 400 at deploy              |
// | another tenant's globals and env              | 200; nothing of the neighbour visible               |
// | prototype pollution of built-ins              | 200 for the attacker; the neighbour sees clean ones |
// | eval / new Function                           | 200 (allowed, no Node inside); a loop in it: 503 cpu|
// | top-level code that never finishes            | 400 at deploy (DEPLOY_STARTUP_TIMEOUT...)           |
// | same, stored past validation                  | 500 at request, the server never hangs              |
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startIslet, attacker, neighbourCode, whileNeighbourServed, type Islet, type Reply } from './islet';

let islet: Islet;

before(async () => {
  islet = await startIslet((config) => {
    config.pool.startupTimeoutMs = 300;
    // a harmless upstream for the subrequest cases lives on 127.0.0.2; every other loopback
    // address stays forbidden to tenants
    config.egress.allow = ['127.0.0.2'];
    config.logRequests = false;
  });
  await islet.deployReady('neighbour', neighbourCode);
  const env = await islet.admin('PUT', '/v1/tenants/neighbour/env', { secrets: { NEIGHBOUR_SECRET: 'n-secret-4f2a' }, vars: { NEIGHBOUR_VAR: 'n-var-77c1' } });
  assert.equal(env.status, 200, env.text);
});
after(() => islet?.close());

/** deploys `code` as `tenant` with `limits`, then sends the attack request while the neighbour is served */
async function attack(tenant: string, code: string, limits: Record<string, number>, path = '/attack', init: { method?: string; body?: string; timeoutMs?: number } = {}): Promise<Reply> {
  await islet.deployReady(tenant, code, limits);
  return whileNeighbourServed(islet, () => islet.hit(tenant, path, init));
}

function assertCut(res: Reply, status: number, limit: string): void {
  assert.equal(res.status, status, `status (body: ${res.text.slice(0, 300)})`);
  assert.equal(res.headers['islet-error'], limit);
  assert.ok(res.headers['islet-request-id'], 'the cut carries a request id');
}

const fast = { cpuMs: 50, wallMs: 3000, memoryMb: 16 };

// ---- CPU ----

test('infinite loop: 503 islet-error: cpu', async () => {
  assertCut(await attack('loop', attacker('while (true) {}'), fast), 503, 'cpu');
});

test('catastrophic regexp: 503 islet-error: cpu', async () => {
  assertCut(await attack('regexp', attacker(`return new Response(String(/^(a+)+$/.test('a'.repeat(40) + '!')));`), fast), 503, 'cpu');
});

test('endless microtasks (a promise chain and queueMicrotask): 503 islet-error: cpu', async () => {
  assertCut(await attack('micro', attacker(`const spin = () => { Promise.resolve().then(spin); }; spin(); await new Promise(() => {});`), fast), 503, 'cpu');
  assertCut(await attack('micro2', attacker(`const again = () => queueMicrotask(again); again(); await new Promise(() => {});`), fast), 503, 'cpu');
});

test('deep recursion: the stack overflow is a tenant exception (500 with a request id)', async () => {
  const res = await attack('recurse', attacker(`const f = (n) => f(n + 1) + 1; return new Response(String(f(0)));`), fast);
  assert.equal(res.status, 500, res.text);
  assert.ok(res.headers['islet-request-id']);
  assert.equal(res.headers['islet-error'], undefined);
  // and the isolate answers afterwards
  assert.equal((await islet.hit('recurse', '/__ping')).status, 200);
});

test('recursion that catches every stack overflow and recurses again: 503 islet-error: cpu', async () => {
  const code = attacker(`const f = () => { try { f(); } catch { f(); } }; f(); return new Response('never');`);
  assertCut(await attack('recurse2', code, fast), 503, 'cpu');
});

// ---- memory ----

const heapPatterns: Record<string, string> = {
  objects: `const keep = []; for (let i = 0; ; i++) keep.push({ i, s: 'o' + i, next: keep[i - 1] });`,
  strings: `const keep = []; for (let i = 0; ; i++) keep.push(('s' + i).repeat(512));`,
  arrays: `const keep = []; for (let i = 0; ; i++) keep.push(new Array(50_000).fill(i));`,
};
for (const [kind, loop] of Object.entries(heapPatterns)) {
  test(`heap explosion (${kind}): 503 islet-error: memory, then a fresh isolate`, async () => {
    const tenant = `heap-${kind}`;
    const code = attacker(`if (new URL(request.url).pathname === '/count') return new Response(String(globalThis.kept ?? 0)); ${loop.replace('const keep = [];', 'const keep = (globalThis.kept = []);')}`);
    assertCut(await attack(tenant, code, { ...fast, cpuMs: 5000 }), 503, 'memory');
    const next = await islet.hit(tenant, '/count');
    assert.equal(next.status, 200);
    assert.equal(next.text, '0', 'the isolate that overflowed was replaced');
  });
}

test('heap explosion (ArrayBuffers outside the V8 heap): 503 islet-error: memory', { todo: 'F2 in /tmp/hostile-findings.md: answered 500 (the RangeError wins over the memory kill)' }, async () => {
  // 1 MiB each: at most a few dozen before a 16 MB budget refuses, never hundreds of MB
  const code = attacker(`const keep = []; for (let i = 0; i < 400; i++) keep.push(new Uint8Array(1 << 20).fill(1)); return new Response('kept ' + keep.length);`);
  assertCut(await attack('heap-buffers', code, { ...fast, cpuMs: 5000 }), 503, 'memory');
});

test('heap explosion (WebAssembly memory): 503 islet-error: memory', { todo: 'F1 in /tmp/hostile-findings.md: wasm memory is outside the budget' }, async () => {
  // grows one 64 KiB page at a time up to 64 MiB at most: a 16 MB budget must stop it long before
  const code = attacker(`
    if (typeof WebAssembly === 'undefined') return new Response('no WebAssembly', { status: 501 });
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1024 });
    for (let i = 1; i < 1024; i++) { memory.grow(1); new Uint8Array(memory.buffer)[i * 65536] = 1; }
    return new Response('grew to ' + memory.buffer.byteLength);`);
  assertCut(await attack('heap-wasm', code, { ...fast, cpuMs: 5000 }), 503, 'memory');
});

test('Promise flood (pending promises kept): 503 islet-error: memory', async () => {
  const code = attacker(`const keep = []; for (;;) keep.push(new Promise(() => {}));`);
  assertCut(await attack('promises', code, { ...fast, cpuMs: 5000 }), 503, 'memory');
});

// ---- timers and logs ----

test('timer flood (setTimeout without end): 503 islet-error: cpu', async () => {
  assertCut(await attack('timers', attacker(`for (;;) setTimeout(() => {}, 1e9);`), fast), 503, 'cpu');
});

test('timers left behind by a finished request never fire afterwards', async () => {
  const code = attacker(`
    if (new URL(request.url).pathname === '/fired') return new Response(String(globalThis.fired ?? 0));
    globalThis.fired = 0;
    for (let i = 0; i < 200; i++) setInterval(() => { globalThis.fired++; }, 1);
    return new Response('armed');`);
  const res = await attack('leftover', code, fast);
  assert.equal(res.status, 200);
  assert.equal(res.text, 'armed');
  const first = await islet.hit('leftover', '/fired');
  await new Promise((r) => setTimeout(r, 100));
  const second = await islet.hit('leftover', '/fired');
  assert.equal(second.text, first.text, 'no interval of the finished request ran in between');
});

test('log flood: 200, and the tenant output in the server log stays under its logBytes limit', async () => {
  const before = islet.logs.length;
  const code = attacker(`for (let i = 0; i < 20_000; i++) console.log('flood ' + i + ' ' + 'x'.repeat(200)); return new Response('logged');`);
  const res = await attack('logflood', code, { ...fast, cpuMs: 5000, logBytes: 4096 });
  assert.equal(res.status, 200);
  assert.equal(res.text, 'logged');
  await new Promise((r) => setTimeout(r, 100));
  const lines = islet.logs.slice(before).filter((r) => r.tenant === 'logflood' && String(r.msg ?? r.message ?? '').includes('flood'));
  const text = lines.map((r) => JSON.stringify(r)).join('\n');
  assert.ok(lines.length > 0, 'some tenant output was logged');
  // 4096 bytes of message text, a few hundred bytes of JSON around each record, one notice
  assert.ok(text.length < 4096 * 4, `tenant log output bounded (${lines.length} records, ${text.length} bytes)`);
});

// ---- responses ----

test('huge response (an endless stream): the body is cut at responseBodyBytes, the connection aborted', async () => {
  const code = attacker(`const chunk = new Uint8Array(64 * 1024).fill(120);
    return new Response(new ReadableStream({ pull(c) { c.enqueue(chunk); } }));`);
  const res = await attack('bigstream', code, { ...fast, cpuMs: 5000, wallMs: 10_000, responseBodyBytes: 1 << 20 });
  assert.equal(res.status, 200);
  assert.ok(res.aborted, 'the client sees the body end abnormally, not a complete response');
  assert.ok(res.text.length <= (1 << 20) + 64 * 1024, `at most the limit (+ one chunk) was sent: ${res.text.length}`);
  const id = res.headers['islet-request-id'];
  assert.ok(islet.logs.some((r) => r.requestId === id && r.source === 'limit' && r.limit === 'body'), 'the cut is logged as a body limit');
});

test('huge response (one buffer over responseBodyBytes): 503 islet-error: body', async () => {
  const code = attacker(`return new Response(new Uint8Array(2 << 20));`);
  assertCut(await attack('bigbuffer', code, { ...fast, cpuMs: 5000, responseBodyBytes: 1 << 20 }), 503, 'body');
});

test('slow-loris response (a byte every 100 ms, forever): cut at the wall limit', async () => {
  const code = attacker(`return new Response(new ReadableStream({ async pull(c) { await new Promise((r) => setTimeout(r, 100)); c.enqueue(new Uint8Array([46])); } }));`);
  const res = await attack('loris', code, { ...fast, wallMs: 800 });
  assert.equal(res.status, 200);
  assert.ok(res.aborted, 'the trickle was cut, not ended as if complete');
  assert.ok(res.text.length < 100, `a few bytes trickled before the cut (${res.text.length})`);
  const id = res.headers['islet-request-id'];
  assert.ok(islet.logs.some((r) => r.requestId === id && r.source === 'limit' && r.limit === 'wall'), 'the cut is logged as a wall limit');
});

// ---- subrequests and egress ----

/** a local HTTP server counting every connection it receives */
async function listener(host: string, handler: http.RequestListener = (_req, res) => res.end('upstream ok')): Promise<{ port: number; connections: () => number; requests: () => number; close(): Promise<void> }> {
  let connections = 0;
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    handler(req, res);
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    requests: () => requests,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

/** tenant code that fetches every URL in the request's JSON body and answers what each did */
const prober = attacker(`
  const urls = await request.json();
  const results = [];
  for (const url of urls) {
    try {
      const res = await fetch(url, { redirect: 'follow' });
      results.push(url + ' -> ' + res.status + ' ' + (await res.text()).slice(0, 40));
    } catch (error) {
      results.push(url + ' -> rejected ' + error.name + ': ' + error.message);
    }
  }
  return Response.json(results);`);

test('subrequest flood: fetch() past the cap rejects (serial and parallel), the upstream sees only the cap', async () => {
  const upstream = await listener('127.0.0.2');
  try {
    const base = `http://127.0.0.2:${upstream.port}/`;
    const code = attacker(`
      const serial = [];
      for (let i = 0; i < 10; i++) {
        try { serial.push((await fetch(${JSON.stringify(base)})).status); } catch (e) { serial.push(e.name); }
      }
      return Response.json(serial);`);
    const res = await attack('subflood', code, { ...fast, cpuMs: 2000, subrequests: 3 });
    assert.equal(res.status, 200, res.text);
    const serial = JSON.parse(res.text) as unknown[];
    assert.deepEqual(serial.slice(0, 3), [200, 200, 200]);
    assert.ok(serial.slice(3).every((s) => typeof s === 'string'), `every fetch past the cap rejected: ${res.text}`);
    assert.equal(upstream.requests(), 3);

    const parallel = attacker(`
      const settled = await Promise.allSettled(Array.from({ length: 500 }, () => fetch(${JSON.stringify(base)})));
      return Response.json({ ok: settled.filter((s) => s.status === 'fulfilled').length, rejected: settled.filter((s) => s.status === 'rejected').length });`);
    const res2 = await attack('subflood2', parallel, { ...fast, cpuMs: 2000, subrequests: 3 });
    assert.equal(res2.status, 200, res2.text);
    assert.deepEqual(JSON.parse(res2.text), { ok: 3, rejected: 497 });
    assert.equal(upstream.requests(), 6);
  } finally {
    await upstream.close();
  }
});

test('fetch to loopback, private, link-local, metadata and mapped addresses, or names resolving there: every fetch rejects, nothing is reached', async () => {
  const v4 = await listener('127.0.0.1');
  const v6 = await listener('::1');
  // an allowed host (egress.allow) that redirects wherever it is told: each hop is checked again
  const redirector = await listener('127.0.0.2', (req, res) => {
    const to = new URL(req.url ?? '/', 'http://x').searchParams.get('to');
    if (to) res.writeHead(302, { location: to }).end();
    else res.end('redirected here');
  });
  try {
    const p = v4.port;
    const q = v6.port;
    const inward = [
      `http://127.0.0.1:${p}/`,
      `http://127.9.9.9:${p}/`,
      `http://localhost:${p}/`,
      `http://LOCALHOST.:${p}/`,
      `http://neighbour.localhost:${islet.serving.tenantPort}/`,
      `http://[::1]:${q}/`,
      `http://[::ffff:127.0.0.1]:${p}/`,
      `http://[::ffff:7f00:1]:${p}/`,
      `http://[::127.0.0.1]:${p}/`,
      `http://[64:ff9b::7f00:1]:${p}/`,
      `http://0.0.0.0:${p}/`,
      `http://[::]:${q}/`,
      `http://2130706433:${p}/`,
      `http://0x7f.1:${p}/`,
      `http://127.1:${p}/`,
      `http://0177.0.0.1:${p}/`,
      `http://127.0.0.1:${islet.serving.adminPort}/v1/tenants`,
      'http://169.254.169.254/latest/meta-data/',
      'http://[::ffff:169.254.169.254]/latest/meta-data/',
      'http://[::ffff:a9fe:a9fe]/',
      'http://[fd00:ec2::254]/latest/meta-data/',
      'http://100.100.100.200/latest/meta-data/',
      'http://10.0.0.1/',
      'http://10.255.255.254:8080/',
      'http://172.16.0.1/',
      'http://192.168.0.1/',
      'http://[fe80::1]/',
      'http://[fc00::1]/',
      `http://127.0.0.2:${redirector.port}/?to=${encodeURIComponent(`http://127.0.0.1:${p}/`)}`,
      `http://127.0.0.2:${redirector.port}/?to=${encodeURIComponent(`http://localhost:${p}/`)}`,
      `http://127.0.0.2:${redirector.port}/?to=${encodeURIComponent('http://169.254.169.254/')}`,
      'file:///etc/passwd',
      `ftp://127.0.0.1:${p}/`,
      `ws://127.0.0.1:${p}/`,
    ];
    const urls = [...inward, `http://127.0.0.2:${redirector.port}/?to=/final`];
    const res = await attack('egress', prober, { ...fast, cpuMs: 2000, subrequests: 100 }, '/probe', { method: 'POST', body: JSON.stringify(urls) });
    assert.equal(res.status, 200, res.text);
    const results = JSON.parse(res.text) as string[];
    assert.equal(results.length, urls.length);
    const reached = results.slice(0, inward.length).filter((r) => !r.includes(' -> rejected '));
    assert.deepEqual(reached, [], 'no inward fetch got an answer');
    // the control: an allowed host answers, so the probe itself works
    assert.match(results.at(-1)!, / -> 200 redirected here$/);
    if (process.env.ISLET_TEST_SHOW) console.error(results.join('\n'));
    assert.equal(v4.connections(), 0, 'the 127.0.0.1 listener was never connected to');
    assert.equal(v6.connections(), 0, 'the ::1 listener was never connected to');
  } finally {
    await Promise.all([v4.close(), v6.close(), redirector.close()]);
  }
});
