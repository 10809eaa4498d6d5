// The sandbox protocol as tenants/ uses it: binding handlers, dispatching requests, limits,
// streaming both ways, waitUntil, timers and console, disposal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeSandbox, loadModule, loadScript, request, readBody, fetchText, testLimits } from './helpers';
import { LimitExceededError, TenantCodeError } from '../../server/errors';

test('bindModule refuses a module without `export default { fetch }` with a clear TenantCodeError', () => {
  const t = makeSandbox();
  try {
    assert.throws(() => loadModule(t, `export const x = 1;`), (err: Error) => err instanceof TenantCodeError && /no default export/.test(err.message) && /export default \{ fetch/.test(err.message));
    const t2 = makeSandbox();
    assert.throws(() => loadModule(t2, `export default { get() {} };`), (err: Error) => err instanceof TenantCodeError && /without a fetch method/.test(err.message));
    t2.close();
  } finally {
    t.close();
  }
});

test('a classic script with addEventListener("fetch") is served; no listener is refused', async () => {
  const t = makeSandbox({ env: { NAME: 'islet' } });
  try {
    loadScript(t, `addEventListener('fetch', (event) => { event.waitUntil(Promise.resolve()); event.respondWith(new Response('script ' + event.request.method)); });`);
    const res = await fetchText(t, request('http://a.test/', { method: 'PUT', body: 'x' }));
    assert.equal(res.text, 'script PUT');
  } finally {
    t.close();
  }
  const empty = makeSandbox();
  try {
    assert.throws(() => loadScript(empty, `var x = 1;`), (err: Error) => err instanceof TenantCodeError && /addEventListener\('fetch'/.test(err.message));
  } finally {
    empty.close();
  }
});

test('env is the second argument; a thrown error or a non-Response rejects with TenantCodeError and the tenant stack', async () => {
  const t = makeSandbox({ env: { GREETING: 'hello' } });
  try {
    loadModule(t, `
      function deep() { throw new RangeError('tenant broke'); }
      export default { async fetch(request, env) {
        const path = new URL(request.url).pathname;
        if (path === '/env') return new Response(env.GREETING);
        if (path === '/throw') deep();
        if (path === '/string') return 'not a response';
        return Response.error();
      } };`);
    assert.equal((await fetchText(t, request('http://a.test/env'))).text, 'hello');
    const thrown = t.sandbox.dispatch(request('http://a.test/throw'));
    await assert.rejects(thrown.response, (err: Error) => err instanceof TenantCodeError && err.message === 'RangeError: tenant broke' && /deep/.test((err as TenantCodeError).tenantStack ?? ''));
    await thrown.done;
    await assert.rejects(t.sandbox.dispatch(request('http://a.test/string')).response, (err: Error) => err instanceof TenantCodeError && /returned string instead of a Response/.test(err.message));
    await assert.rejects(t.sandbox.dispatch(request('http://a.test/error')).response, /Response\.error\(\)/);
    assert.equal(t.sandbox.inFlight, 0);
  } finally {
    t.close();
  }
});

test('an endless loop is cut by the CPU budget and the isolate keeps serving', async () => {
  const t = makeSandbox();
  try {
    loadModule(t, `export default { fetch(request) { if (request.url.endsWith('/spin')) { while (true) {} } return new Response('ok'); } };`);
    const d = t.sandbox.dispatch(request('http://a.test/spin'), { ...testLimits, cpuMs: 30 });
    await assert.rejects(d.response, (err: Error) => err instanceof LimitExceededError && err.limit === 'cpu' && err.measured >= 1);
    const account = await d.done;
    assert.equal(account.limit?.limit, 'cpu');
    assert.equal((await fetchText(t, request('http://a.test/'))).text, 'ok');
  } finally {
    t.close();
  }
});

test('a request waiting past its wall budget fails with LimitExceededError("wall"), its timers die with it', async () => {
  const t = makeSandbox();
  try {
    loadModule(t, `let fired = 0; export default { async fetch(request) {
      if (request.url.endsWith('/fired')) return new Response(String(fired));
      setTimeout(() => fired++, 150);
      await new Promise((r) => setTimeout(r, 10000));
      return new Response('late');
    } };`);
    const d = t.sandbox.dispatch(request('http://a.test/slow'), { ...testLimits, wallMs: 60 });
    await assert.rejects(d.response, (err: Error) => err instanceof LimitExceededError && err.limit === 'wall');
    await d.done;
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await fetchText(t, request('http://a.test/fired'))).text, '0');
  } finally {
    t.close();
  }
});

test('the request body is pulled only when read, and capped by requestBodyBytes', async () => {
  const t = makeSandbox();
  try {
    loadModule(t, `export default { async fetch(request) {
      if (request.url.endsWith('/ignore')) return new Response('ignored');
      const text = await request.text(); return new Response(String(text.length));
    } };`);
    let pulled = 0;
    const body = (n: number) => ({
      async *[Symbol.asyncIterator]() {
        for (let i = 0; i < n; i++) {
          pulled++;
          yield new Uint8Array(1000);
        }
      },
    });
    assert.equal((await fetchText(t, request('http://a.test/ignore', { method: 'POST', body: body(5) }))).text, 'ignored');
    assert.equal(pulled, 0);
    assert.equal((await fetchText(t, request('http://a.test/', { method: 'POST', body: body(5) }))).text, '5000');
    const d = t.sandbox.dispatch(request('http://a.test/', { method: 'POST', body: body(50) }), { ...testLimits, requestBodyBytes: 10000 });
    await assert.rejects(d.response, (err: Error) => err instanceof LimitExceededError && err.limit === 'body' && err.measured > 10000);
    await d.done;
  } finally {
    t.close();
  }
});

test('a streamed response is pulled one chunk per next(); the producer waits for the reader', async () => {
  const t = makeSandbox();
  try {
    loadModule(t, `let produced = 0; export default { async fetch(request) {
      if (request.url.endsWith('/count')) return new Response(String(produced));
      let i = 0;
      return new Response(new ReadableStream({ pull(c) { produced++; i++; c.enqueue(new TextEncoder().encode('chunk' + i + ';')); if (i === 5) c.close(); } }, { highWaterMark: 0 }));
    } };`);
    const d = t.sandbox.dispatch(request('http://a.test/'));
    const res = await d.response;
    assert.ok(res.body && !(res.body instanceof Uint8Array));
    const iterator = (res.body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.equal(Buffer.from(first.value!).toString(), 'chunk1;');
    assert.equal((await fetchText(t, request('http://a.test/count'))).text, '1');
    const rest: string[] = [];
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) rest.push(Buffer.from(r.value).toString());
    assert.deepEqual(rest, ['chunk2;', 'chunk3;', 'chunk4;', 'chunk5;']);
    const account = await d.done;
    assert.equal(account.limit, undefined);
  } finally {
    t.close();
  }
});

test('a response body over responseBodyBytes fails the body and done', async () => {
  const t = makeSandbox();
  try {
    loadModule(t, `export default { fetch(request) {
      if (request.url.endsWith('/whole')) return new Response('x'.repeat(5000));
      return new Response(new ReadableStream({ pull(c) { c.enqueue(new Uint8Array(1000)); } }));
    } };`);
    await assert.rejects(t.sandbox.dispatch(request('http://a.test/whole'), { ...testLimits, responseBodyBytes: 4000 }).response, (err: Error) => err instanceof LimitExceededError && err.limit === 'body');
    const d = t.sandbox.dispatch(request('http://a.test/stream'), { ...testLimits, responseBodyBytes: 4000 });
    const res = await d.response;
    await assert.rejects(readBody(res), (err: Error) => err instanceof LimitExceededError && err.limit === 'body');
    await assert.rejects(d.done, (err: Error) => err instanceof LimitExceededError && err.limit === 'body' && err.account !== undefined && err.account.cpuNs > 0n);
  } finally {
    t.close();
  }
});

test('ctx.waitUntil extends the request: done waits for it, the response does not', async () => {
  const t = makeSandbox();
  try {
    loadModule(t, `export default { fetch(request, env, ctx) {
      ctx.passThroughOnException();
      ctx.waitUntil(new Promise((r) => setTimeout(() => { console.log('background done'); r(); }, 30)));
      return new Response('now');
    } };`);
    const d = t.sandbox.dispatch(request('http://a.test/'));
    const res = await d.response;
    assert.equal(Buffer.from(res.body as Uint8Array).toString(), 'now');
    assert.equal(t.logs.length, 0);
    await d.done;
    assert.deepEqual(t.logs.map((l) => l.message), ['background done']);
    assert.equal(t.logs[0].requestId !== undefined, true);
  } finally {
    t.close();
  }
});

test('console output becomes log records, capped per request with a single notice', async () => {
  const t = makeSandbox();
  try {
    loadModule(t, `console.info('top level'); export default { fetch() {
      console.warn('w', { a: [1, 2] }, 3);
      for (let i = 0; i < 100; i++) console.log('line %d of filler text', i);
      return new Response('ok');
    } };`);
    const req = request('http://a.test/');
    await fetchText(t, req);
    assert.deepEqual(t.logs[0], { level: 'info', message: 'top level', tenant: 'test', deployment: 'd1' });
    assert.deepEqual(t.logs[1], { level: 'warn', message: "w { a: [ 1, 2 ] } 3", tenant: 'test', deployment: 'd1', requestId: req.id });
    const d = t.sandbox.dispatch(request('http://a.test/'), { ...testLimits, logBytes: 200 });
    await d.response;
    const account = await d.done;
    const mine = t.logs.filter((l) => l.requestId && l.requestId !== req.id);
    assert.ok(mine.length < 12, `${mine.length} records`);
    assert.equal(mine.filter((l) => /dropped/.test(l.message)).length, 1);
    assert.ok(account.logBytes > 200);
  } finally {
    t.close();
  }
});

test('an isolate killed for memory fails every in-flight request with LimitExceededError("memory")', async () => {
  const t = makeSandbox({ memoryLimit: 16 });
  try {
    loadModule(t, `const keep = []; export default { async fetch(request) {
      if (request.url.endsWith('/wait')) { await new Promise((r) => setTimeout(r, 5000)); return new Response('late'); }
      while (true) keep.push(new Array(100000).fill(1));
    } };`);
    const waiting = t.sandbox.dispatch(request('http://a.test/wait'));
    const hog = t.sandbox.dispatch(request('http://a.test/hog'));
    await assert.rejects(hog.response, (err: Error) => err instanceof LimitExceededError && err.limit === 'memory');
    await assert.rejects(waiting.response, (err: Error) => err instanceof LimitExceededError && err.limit === 'memory');
    assert.equal(t.sandbox.inFlight, 0);
  } finally {
    t.close();
  }
});

test('dispose fails pending requests and cancels their timers', async () => {
  const t = makeSandbox();
  loadModule(t, `export default { async fetch() { await new Promise((r) => setTimeout(r, 5000)); return new Response('late'); } };`);
  const d = t.sandbox.dispatch(request('http://a.test/'));
  assert.equal(t.sandbox.inFlight, 1);
  t.sandbox.dispose();
  await assert.rejects(d.response, (err: Error & { code?: string }) => err.code === 'ISLET_SANDBOX_DISPOSED');
  await d.done;
  assert.equal(t.sandbox.inFlight, 0);
  await assert.rejects(t.sandbox.dispatch(request('http://a.test/')).response, /disposed/);
  t.close();
});

test('concurrent requests interleave at awaits in one isolate', async () => {
  const t = makeSandbox();
  try {
    loadModule(t, `export default { async fetch(request) {
      const ms = Number(new URL(request.url).searchParams.get('ms'));
      await new Promise((r) => setTimeout(r, ms));
      return new Response(String(ms));
    } };`);
    const order: string[] = [];
    await Promise.all([50, 5, 25].map(async (ms) => order.push((await fetchText(t, request(`http://a.test/?ms=${ms}`))).text)));
    assert.deepEqual(order, ['5', '25', '50']);
  } finally {
    t.close();
  }
});

test('timers and fetch are refused in top-level code, where no request budget would pay for them', async () => {
  const t = makeSandbox();
  try {
    loadModule(t, `
      let timerError = null; try { setTimeout(() => {}, 10); } catch (err) { timerError = err.message; }
      const fetchError = fetch('https://example.com/').then(() => null, (err) => err.message);
      export default { async fetch() { return Response.json({ timerError, fetchError: await fetchError }); } };`);
    const res = JSON.parse((await fetchText(t, request('http://a.test/'))).text);
    assert.match(res.timerError, /only be used while handling a request/);
    assert.match(res.fetchError, /only be used while handling a request/);
  } finally {
    t.close();
  }
});

test('a request body handed back untouched streams straight through (echo), still under its limit', async () => {
  const t = makeSandbox();
  try {
    loadModule(t, `export default { fetch(request) { return new Response(request.body, { headers: { 'content-type': request.headers.get('content-type') } }); } };`);
    const chunks = {
      async *[Symbol.asyncIterator]() {
        for (let i = 0; i < 4; i++) yield Buffer.from(`part${i};`);
      },
    };
    const res = await fetchText(t, request('http://a.test/', { method: 'POST', headers: { 'content-type': 'text/x' }, body: chunks }));
    assert.equal(res.text, 'part0;part1;part2;part3;');
    const big = {
      async *[Symbol.asyncIterator]() {
        for (let i = 0; i < 20; i++) yield new Uint8Array(1000);
      },
    };
    const d = t.sandbox.dispatch(request('http://a.test/', { method: 'POST', body: big }), { ...testLimits, requestBodyBytes: 5000 });
    const response = await d.response;
    await assert.rejects(readBody(response));
    await assert.rejects(d.done, (err: Error) => err instanceof LimitExceededError && err.limit === 'body');
  } finally {
    t.close();
  }
});

test('request.signal aborts when the request is cut', async () => {
  const t = makeSandbox();
  try {
    loadModule(t, `export default { async fetch(request) {
      request.signal.addEventListener('abort', () => console.log('aborted: ' + request.signal.reason.name));
      await new Promise(() => {});
    } };`);
    const d = t.sandbox.dispatch(request('http://a.test/'), { ...testLimits, wallMs: 50 });
    await assert.rejects(d.response, (err: Error) => err instanceof LimitExceededError && err.limit === 'wall');
    await d.done;
    assert.ok(t.logs.some((l) => l.message === 'aborted: AbortError'), JSON.stringify(t.logs));
  } finally {
    t.close();
  }
});

test('an uncaught ArrayBuffer allocation failure that ends in a memory kill is reported as memory, not as a tenant error', async () => {
  const t = makeSandbox({ memoryLimit: 16 });
  try {
    loadModule(t, `const keep = []; export default { fetch() { while (true) keep.push(new Uint8Array(1 << 20)); } };`);
    const d = t.sandbox.dispatch(request('http://a.test/'));
    const error = await d.response.then(() => null, (err: Error) => err);
    await d.done;
    // islet's addon disposes an isolate whose ArrayBuffers pass the budget; the reference library
    // only throws the RangeError and keeps the isolate, which is then a plain tenant error
    if (t.isolate.isDisposed) assert.ok(error instanceof LimitExceededError && error.limit === 'memory', String(error));
    else assert.ok(error instanceof TenantCodeError && /Array buffer allocation failed/.test(error.message), String(error));
  } finally {
    t.close();
  }
});
