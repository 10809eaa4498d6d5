// The globals Workers code expects beyond fetch: messaging, error events and reportError,
// Performance, scheduler.wait, navigator, crypto.DigestStream / timingSafeEqual / MD5, EventSource
// over the egress-guarded fetch; and every global interface with its standard name and tag.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { makeEvaluator, runThrows, repoRoot, makeSandbox, loadModule } from './helpers';
import { deploySandbox } from './deploy-helpers';
import { fetchText, request } from './helpers';

const e = makeEvaluator();
after(() => e.close());

test('every global interface has its standard name and Symbol.toStringTag', async () => {
  const out = await e.run(`
    const wrong = [];
    for (const name of Object.getOwnPropertyNames(globalThis)) {
      if (!/^[A-Z]/.test(name)) continue;
      const value = globalThis[name];
      if (typeof value !== 'function' || !value.prototype) continue;
      if (value.name !== name) wrong.push(name + ' is named ' + value.name);
    }
    const tags = [
      [new Headers(), 'Headers'], [new AbortController().signal, 'AbortSignal'],
      [new AbortController(), 'AbortController'], [new Request('http://x/'), 'Request'], [new Response(''), 'Response'],
      [new Blob([]), 'Blob'], [new URL('http://x/'), 'URL'], [new Event('x'), 'Event'],
      [new EventTarget(), 'EventTarget'],
      [new TextEncoder(), 'TextEncoder'], [crypto, 'Crypto'], [performance, 'Performance'], [navigator, 'Navigator'],
      [new MessageChannel().port1, 'MessagePort'], [new MessageEvent('m'), 'MessageEvent'],
    ];
    for (const [value, tag] of tags) {
      const seen = Object.prototype.toString.call(value);
      if (seen !== '[object ' + tag + ']') wrong.push(tag + ' shows as ' + seen);
    }
    return wrong;`);
  assert.deepEqual(out, []);
});

test('every interface and global of the WinterTC Minimum Common API is there', async () => {
  const missing = await e.run(`
    const interfaces = ['AbortController', 'AbortSignal', 'Blob', 'ByteLengthQueuingStrategy', 'CompressionStream',
      'CountQueuingStrategy', 'Crypto', 'CryptoKey', 'CustomEvent', 'DecompressionStream', 'DOMException', 'Event',
      'EventTarget', 'File', 'FormData', 'Headers', 'ReadableByteStreamController', 'ReadableStream',
      'ReadableStreamBYOBReader', 'ReadableStreamBYOBRequest', 'ReadableStreamDefaultController',
      'ReadableStreamDefaultReader', 'Request', 'Response', 'SubtleCrypto', 'TextDecoder', 'TextDecoderStream',
      'TextEncoder', 'TextEncoderStream', 'TransformStream', 'TransformStreamDefaultController', 'URL', 'URLPattern',
      'URLSearchParams', 'WritableStream', 'WritableStreamDefaultController', 'WritableStreamDefaultWriter'];
    const wasm = ['Global', 'Instance', 'Memory', 'Module', 'Table', 'compile', 'compileStreaming', 'instantiate',
      'instantiateStreaming', 'validate'];
    const functions = ['atob', 'btoa', 'fetch', 'queueMicrotask', 'reportError', 'setTimeout', 'clearTimeout',
      'setInterval', 'clearInterval', 'structuredClone'];
    const missing = [];
    for (const name of [...interfaces, ...functions]) if (typeof globalThis[name] !== 'function') missing.push(name);
    for (const name of wasm) if (typeof WebAssembly[name] !== 'function') missing.push('WebAssembly.' + name);
    if (typeof console.log !== 'function') missing.push('console');
    if (!(crypto instanceof Crypto)) missing.push('crypto');
    if (typeof navigator.userAgent !== 'string') missing.push('navigator.userAgent');
    const clock = [typeof performance.now(), typeof performance.timeOrigin];
    if (clock.join() !== 'number,number') missing.push('performance');
    if (self !== globalThis) missing.push('self');
    return missing;`);
  assert.deepEqual(missing, []);
});

test('MessageChannel delivers structured clones to the other port once it is started', async () => {
  const out = await e.run(`
    const { port1, port2 } = new MessageChannel();
    const received = [];
    const sent = { n: 1, nested: { list: [1, 2] }, when: new Date(0) };
    port1.postMessage(sent);
    await null;
    const before = received.length;
    const done = new Promise((resolve) => {
      port2.onmessage = (event) => { received.push(event.data); if (received.length === 2) resolve(); };
    });
    port1.postMessage('second');
    await done;
    sent.nested.list.push(3);
    port1.close();
    port1.postMessage('after close');
    await null; await null;
    return {
      before,
      count: received.length,
      first: received[0].nested.list,
      date: received[0].when instanceof Date,
      second: received[1],
      isEvent: typeof MessageEvent,
    };`);
  assert.deepEqual(out, { before: 0, count: 2, first: [1, 2], date: true, second: 'second', isEvent: 'function' });
});

test('ErrorEvent, PromiseRejectionEvent; reportError: an error event the tenant may cancel, else logged', async () => {
  const t = makeEvaluator();
  try {
    const out = await t.run(`
      const p = Promise.reject(new Error('x')); p.catch(() => {});
      const rejection = new PromiseRejectionEvent('unhandledrejection', { promise: p, reason: 'why' });
      const error = new ErrorEvent('error', { message: 'm', lineno: 3, error: 42 });
      let seen = null;
      const listener = (event) => { seen = [event.constructor.name, event.error.message]; event.preventDefault(); };
      addEventListener('error', listener);
      reportError(new Error('handled by the tenant'));
      removeEventListener('error', listener);
      reportError(new Error('reported to the log'));
      const errorFields = [error.message, error.lineno, error.error];
      return { rejection: [rejection.reason, rejection.promise === p], error: errorFields, seen };`);
    assert.deepEqual(out, {
      rejection: ['why', true],
      error: ['m', 3, 42],
      seen: ['ErrorEvent', 'handled by the tenant'],
    });
    const logged = t.logs.filter((r) => r.level === 'error').map((r) => r.message);
    assert.equal(logged.length, 1, JSON.stringify(logged));
    assert.match(logged[0]!, /^Uncaught Error: reported to the log\n\s+at /);
  } finally {
    t.close();
  }
});

test('performance is a Performance with timeOrigin, marks and measures; scheduler.wait waits', async () => {
  const out = await e.run(`
    const start = performance.now();
    performance.mark('a');
    await scheduler.wait(20);
    performance.mark('b', { detail: { step: 2 } });
    const measure = performance.measure('a-to-b', 'a', 'b');
    const signal = AbortSignal.abort(new Error('stop'));
    const aborted = await scheduler.wait(10000, { signal }).catch((e) => e.message);
    return {
      instance: performance instanceof Performance, origin: Math.abs(performance.timeOrigin - Date.now()) < 60000,
      waited: performance.now() - start >= 19, measure: measure.duration >= 19 && measure.entryType,
      marks: performance.getEntriesByType('mark').map((m) => m.name),
      detail: performance.getEntriesByName('b')[0].detail.step,
      aborted, json: Object.keys(performance.toJSON()),
    };`);
  assert.deepEqual(out, {
    instance: true,
    origin: true,
    waited: true,
    measure: 'measure',
    marks: ['a', 'b'],
    detail: 2,
    aborted: 'stop',
    json: ['timeOrigin'],
  });
});

test("navigator.userAgent is 'Cloudflare-Workers', so hono's getRuntimeKey() says workerd", async () => {
  const t = await deploySandbox(
    {
      'index.js': `import { getRuntimeKey } from 'hono/adapter';
      export default { fetch() { return Response.json({ key: getRuntimeKey(), ua: navigator.userAgent }); } };`,
    },
    { hostNodeModules: path.join(repoRoot, 'node_modules') },
  );
  try {
    const r = await fetchText(t, request('http://x.test/'));
    assert.deepEqual(JSON.parse(r.text), { key: 'workerd', ua: 'Cloudflare-Workers' });
  } finally {
    t.close();
  }
});

test('crypto.subtle.timingSafeEqual, MD5 in digest, and crypto.DigestStream', async () => {
  const out = await e.run(`
    const enc = new TextEncoder();
    const eq = [
      crypto.subtle.timingSafeEqual(enc.encode('abc'), enc.encode('abc')),
      crypto.subtle.timingSafeEqual(enc.encode('abc').buffer, enc.encode('abd')),
    ];
    let lengths;
    try { crypto.subtle.timingSafeEqual(enc.encode('a'), enc.encode('ab')); } catch (err) { lengths = err.name; }
    const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');
    const md5 = hex(await crypto.subtle.digest('MD5', enc.encode('hello')));
    const stream = new crypto.DigestStream('SHA-256');
    const writer = stream.getWriter();
    await writer.write(enc.encode('hel'));
    await writer.write(enc.encode('lo'));
    await writer.close();
    const md5Stream = new crypto.DigestStream({ name: 'MD5' });
    await new Response('hello').body.pipeTo(md5Stream);
    return {
      eq,
      lengths,
      md5,
      sha256: hex(await stream.digest),
      md5Stream: hex(await md5Stream.digest),
      isWritable: stream instanceof WritableStream,
      name: crypto.DigestStream.name,
      tag: Object.prototype.toString.call(stream),
    };`);
  assert.deepEqual(out.eq, [true, false]);
  assert.equal(out.lengths, 'TypeError');
  assert.equal(out.md5, crypto.createHash('md5').update('hello').digest('hex'));
  assert.equal(out.sha256, crypto.createHash('sha256').update('hello').digest('hex'));
  assert.equal(out.md5Stream, out.md5);
  assert.equal(out.isWritable, true);
  assert.equal(out.name, 'DigestStream');
  assert.equal(out.tag, '[object DigestStream]');
});

test('WebAssembly compile/instantiate settle, and the streaming forms take an application/wasm Response', async () => {
  const out = await e.run(`
    const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 7, 1, 96, 2, 127, 127, 1, 127, 3, 2, 1, 0, 7, 7, 1, 3,
      97, 100, 100, 0, 0, 10, 9, 1, 7, 0, 32, 0, 32, 1, 106, 11]);
    const wasm = (status = 200, type = 'application/wasm') =>
      new Response(bytes, { status, headers: { 'content-type': type } });
    const { instance } = await WebAssembly.instantiateStreaming(Promise.resolve(wasm()));
    const module = await WebAssembly.compileStreaming(wasm());
    const refused = [];
    for (const source of [wasm(200, 'application/octet-stream'), wasm(404), 'not a response']) {
      refused.push(await WebAssembly.compileStreaming(source).then(() => 'compiled', (err) => err.name));
    }
    const compiled = await WebAssembly.instantiate(await WebAssembly.compile(bytes));
    const both = await WebAssembly.instantiate(bytes);
    const broken = await WebAssembly.compile(new Uint8Array([0, 97, 115, 109, 9]))
      .then(() => 'compiled', (err) => err.name);
    const names = [WebAssembly.compile, WebAssembly.instantiate, WebAssembly.compileStreaming,
      WebAssembly.instantiateStreaming].map((f) => f.name).join();
    return {
      names,
      sum: instance.exports.add(2, 3), module: module instanceof WebAssembly.Module, refused,
      compiled: compiled.exports.add(1, 1), both: both.instance.exports.add(3, 3), broken,
    };`);
  assert.deepEqual(out, {
    names: 'compile,instantiate,compileStreaming,instantiateStreaming',
    sum: 5,
    module: true,
    refused: ['TypeError', 'TypeError', 'TypeError'],
    compiled: 2,
    both: 6,
    broken: 'CompileError',
  });
});

test('Float16Array is there exactly when the engine has it', async () => {
  const inIsolate = await e.run(`return typeof Float16Array;`);
  assert.equal(inIsolate, typeof (globalThis as { Float16Array?: unknown }).Float16Array);
});

let sse: http.Server;
let ssePort = 0;
const sseRequests: { lastEventId: string | undefined; accept: string | undefined }[] = [];
before(async () => {
  sse = http.createServer((req, res) => {
    sseRequests.push({ lastEventId: req.headers['last-event-id'] as string | undefined, accept: req.headers.accept });
    if (req.url === '/not-sse') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('nope');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (req.headers['last-event-id'] === undefined) {
      // first connection: two events split across writes, a comment, a retry hint, then the server hangs up
      res.write(': hello\n\nretry: 50\nid: 1\ndata: first\n\n');
      res.write('event: update\nid: 2\ndata: line one\r\ndata: line two\r\n\r\n');
      res.end();
    } else {
      res.end(`id: 3\ndata: resumed after ${req.headers['last-event-id']}\n\n`);
    }
  });
  await new Promise<void>((resolve) => sse.listen(0, '127.0.0.1', resolve));
  ssePort = (sse.address() as AddressInfo).port;
});
after(() => {
  sse.closeAllConnections();
  sse.close();
});

test('an EventSource consumer reads events from an allowed upstream and resumes with Last-Event-ID', async () => {
  const t = makeEvaluator({ egress: { allow: ['127.0.0.1'] } });
  try {
    const out = await t.run(`
      const source = new EventSource('http://127.0.0.1:${ssePort}/events');
      const seen = [];
      await new Promise((resolve, reject) => {
        source.onopen = () => seen.push('open');
        source.onmessage = (event) => {
          seen.push(['message', event.data, event.lastEventId]);
          if (event.lastEventId === '3') resolve();
        };
        source.addEventListener('update', (event) => seen.push([event.type, event.data, event.lastEventId]));
        source.onerror = () => seen.push('error:' + source.readyState);
        setTimeout(() => reject(new Error('timed out: ' + JSON.stringify(seen))), 3000);
      });
      source.close();
      return { seen, state: source.readyState, url: source.url };`);
    assert.deepEqual(out.seen, [
      'open',
      ['message', 'first', '1'],
      ['update', 'line one\nline two', '2'],
      'error:0',
      'open',
      ['message', 'resumed after 2', '3'],
    ]);
    assert.equal(out.state, 2);
    assert.equal(out.url, `http://127.0.0.1:${ssePort}/events`);
    assert.deepEqual(
      sseRequests.slice(-2).map((r) => r.lastEventId),
      [undefined, '2'],
    );
    assert.equal(sseRequests.at(-1)!.accept, 'text/event-stream');
  } finally {
    t.close();
  }
});

test('EventSource goes through the egress guard, and a non-event-stream answer fails the connection', async () => {
  const t = makeEvaluator();
  const before = sseRequests.length;
  try {
    const refused = await t.run(`
      const source = new EventSource('http://127.0.0.1:${ssePort}/events');
      await new Promise((resolve) => { source.onerror = resolve; });
      source.close();
      return source.readyState;`);
    assert.equal(refused, 2);
    assert.equal(sseRequests.length, before, 'the loopback upstream was never reached');
  } finally {
    t.close();
  }
  const allowed = makeEvaluator({ egress: { allow: ['127.0.0.1'] } });
  try {
    const state = await allowed.run(`
      const source = new EventSource('http://127.0.0.1:${ssePort}/not-sse');
      await new Promise((resolve) => { source.onerror = resolve; });
      return source.readyState;`);
    assert.equal(state, 2);
    assert.equal(await runThrows(allowed, `new EventSource('not a url')`).then((x) => x.name), 'SyntaxError');
  } finally {
    allowed.close();
  }
});

test('EventSource, DigestStream, MD5 digests and HTMLRewriter are given only to code that names them', async () => {
  const t = makeSandbox();
  try {
    loadModule(
      t,
      `const parts = [['Event', 'Source'], ['Digest', 'Stream'], ['M', 'D5'], ['HTML', 'Rewriter']];
       const names = parts.map((p) => p.join(''));
       export default { async fetch() {
         const data = new Uint8Array(1);
         const digest = await crypto.subtle.digest(names[2], data).then(() => 'digested', (err) => err.name);
         const found = [typeof globalThis[names[0]], typeof crypto[names[1]], digest, typeof globalThis[names[3]]];
         return Response.json(found);
       } };`,
    );
    const out = JSON.parse((await fetchText(t, request('http://x.test/'))).text);
    assert.deepEqual(out, ['undefined', 'undefined', 'NotSupportedError', 'undefined']);
  } finally {
    t.close();
  }
});
