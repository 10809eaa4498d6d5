// Hostile tenant code: the bridge and isolate-library handles must stay out of reach, and
// tampering with built-ins must break only the tenant's own code, never request dispatch.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEvaluator, makeSandbox, loadModule, request, fetchText } from './helpers';

const e = makeEvaluator();
after(() => e.close());

test('the global object holds only standard built-ins and Web platform globals', async () => {
  const names: string[] = await e.run(`return Object.getOwnPropertyNames(globalThis).concat(Object.getOwnPropertySymbols(globalThis).map(String));`);
  const allowed = new Set([
    // ECMAScript and V8
    'Object', 'Function', 'Array', 'Number', 'parseFloat', 'parseInt', 'Infinity', 'NaN', 'undefined', 'Boolean', 'String', 'Symbol', 'Date', 'Promise', 'RegExp', 'Error', 'AggregateError', 'EvalError', 'RangeError', 'ReferenceError', 'SyntaxError', 'TypeError', 'URIError', 'globalThis', 'JSON', 'Math', 'Intl', 'ArrayBuffer', 'Atomics', 'Uint8Array', 'Int8Array', 'Uint16Array', 'Int16Array', 'Uint32Array', 'Int32Array', 'Float32Array', 'Float64Array', 'Uint8ClampedArray', 'BigUint64Array', 'BigInt64Array', 'DataView', 'Map', 'BigInt', 'Set', 'WeakMap', 'WeakSet', 'Proxy', 'Reflect', 'FinalizationRegistry', 'WeakRef', 'decodeURI', 'decodeURIComponent', 'encodeURI', 'encodeURIComponent', 'escape', 'unescape', 'eval', 'isFinite', 'isNaN', 'SharedArrayBuffer', 'WebAssembly', 'console',
    // Web platform (runtime-shims)
    'DOMException', 'Event', 'EventTarget', 'CustomEvent', 'AbortController', 'AbortSignal', 'TextEncoder', 'TextDecoder', 'atob', 'btoa', 'URL', 'URLSearchParams', 'Headers', 'Request', 'Response', 'Blob', 'File', 'FormData', 'fetch', 'FetchEvent', 'setTimeout', 'setInterval', 'clearTimeout', 'clearInterval', 'queueMicrotask', 'structuredClone', 'Crypto', 'crypto', 'performance', 'navigator', 'self', 'addEventListener', 'removeEventListener', 'dispatchEvent',
    'ReadableStream', 'ReadableStreamDefaultReader', 'ReadableStreamBYOBReader', 'ReadableStreamBYOBRequest', 'ReadableByteStreamController', 'ReadableStreamDefaultController', 'WritableStream', 'WritableStreamDefaultWriter', 'WritableStreamDefaultController', 'TransformStream', 'TransformStreamDefaultController', 'ByteLengthQueuingStrategy', 'CountQueuingStrategy', 'TextEncoderStream', 'TextDecoderStream', 'CompressionStream', 'DecompressionStream', 'URLPattern', 'SubtleCrypto', 'CryptoKey',
    // the Workers platform (server/bindings/)
    'caches', 'Cache', 'CacheStorage', 'ScheduledController', 'ScheduledEvent',
    'Performance', 'PerformanceEntry', 'PerformanceMark', 'PerformanceMeasure', 'Navigator', 'Scheduler', 'scheduler',
    'MessageEvent', 'ErrorEvent', 'PromiseRejectionEvent', 'reportError', 'MessageChannel', 'MessagePort', 'EventSource', 'HTMLRewriter',
    'WebSocket', 'WebSocketPair', 'CloseEvent',
    'Symbol(Symbol.toStringTag)',
  ]);
  const unexpected = names.filter((n) => !allowed.has(n));
  assert.deepEqual(unexpected, []);
});

test('walking everything reachable from globalThis finds no isolate-library handle or bridge', async () => {
  const found = await e.run(`
    const seen = new Set(); const queue = [[globalThis, 'globalThis']]; const suspicious = [];
    const handleMethods = ['applySync', 'derefInto', 'copySync', 'getSync', 'setSync', 'evalClosureSync', 'compileScriptSync', 'copyInto'];
    while (queue.length && seen.size < 20000) {
      const [value, path] = queue.shift();
      if (value === null || (typeof value !== 'object' && typeof value !== 'function') || seen.has(value)) continue;
      seen.add(value);
      for (const m of handleMethods) { try { if (m in value) suspicious.push(path + '.' + m); } catch {} }
      let keys = []; try { keys = Reflect.ownKeys(value); } catch {}
      for (const key of keys) {
        let desc; try { desc = Object.getOwnPropertyDescriptor(value, key); } catch { continue; }
        if (!desc) continue;
        if ('value' in desc) queue.push([desc.value, path + '.' + String(key)]);
      }
      try { queue.push([Object.getPrototypeOf(value), path + '.__proto__']); } catch {}
    }
    return { count: seen.size, suspicious };`);
  assert.ok(found.count > 500, `walked ${found.count} objects`);
  assert.deepEqual(found.suspicious, []);
});

test('constructor.constructor reaches only the isolate own global, not Node', async () => {
  const value = await e.run(`
    const viaFunction = (function () {}).constructor.constructor('return this')();
    const viaShim = Response.constructor('return typeof process + "/" + typeof require + "/" + typeof module')();
    const viaHeaders = new Headers().append.constructor('return globalThis')();
    return [viaFunction === globalThis, viaShim, viaHeaders === globalThis];`);
  assert.deepEqual(value, [true, 'undefined/undefined/undefined', true]);
});

test('Error.prepareStackTrace sees no shim function or receiver in call sites', async () => {
  const value = await e.run(`
    const leaked = []; let shimFrames = 0;
    Error.prepareStackTrace = (error, sites) => {
      for (const site of sites) {
        const fn = site.getFunction(); const self = site.getThis();
        if (site.getFileName() && site.getFileName().includes('islet:')) shimFrames++, leaked.push([site.getFunctionName(), typeof fn, typeof self]);
      }
      return 'trace';
    };
    // tenant code called back from inside the shims (header value conversion, event listeners, stream sources)
    const probe = { toString() { new Error().stack; return 'v'; } };
    new Headers().append('x', probe);
    new EventTarget().addEventListener('x', () => new Error().stack); 
    const t = new EventTarget(); t.addEventListener('x', () => new Error().stack); t.dispatchEvent(new Event('x'));
    await new Response(new ReadableStream({ pull(c) { new Error().stack; c.enqueue(new Uint8Array(1)); c.close(); } })).arrayBuffer();
    delete Error.prepareStackTrace;
    return [shimFrames > 0, leaked.filter(([, fn, self]) => fn !== 'undefined' || self !== 'undefined')];`);
  // the probes did run through shim frames, and none of them exposed its function or receiver
  assert.deepEqual(value, [true, []]);
});

test('tampering with Array.prototype.push, Promise.prototype.then, JSON and Object.defineProperty does not break dispatch', async () => {
  const t = makeSandbox();
  try {
    loadModule(t, `
      Array.prototype.push = function () { throw new Error('push is broken'); };
      Promise.prototype.then = function () { throw new Error('then is broken'); };
      JSON.stringify = () => { throw new Error('stringify is broken'); };
      JSON.parse = () => { throw new Error('parse is broken'); };
      Object.defineProperty = () => { throw new Error('defineProperty is broken'); };
      Function.prototype.call = function () { throw new Error('call is broken'); };
      export default { async fetch(request) {
        const body = await request.text();
        const res = Response.json({ got: body, path: new URL(request.url).pathname }, { headers: { 'x-seen': request.headers.get('x-in') } });
        return res;
      } };`);
    const res = await fetchText(t, request('http://a.test/p', { method: 'POST', headers: { 'x-in': 'yes' }, body: 'payload' }));
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.text), { got: 'payload', path: '/p' });
    assert.equal(res.headers[res.headers.indexOf('x-seen') + 1], 'yes');
    // streams, loaded lazily after the tampering, capture the pristine Promise.prototype.then
    // (the polyfill still calls Array.prototype.push at run time: a tenant that breaks push
    // breaks its own streams, which is its own business)
    const t2 = makeSandbox();
    try {
      loadModule(t2, `
        Promise.prototype.then = function () { throw new Error('then is broken'); };
        export default { fetch() { return new Response(new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('streamed')); c.close(); } })); } };`);
      assert.equal((await fetchText(t2, request('http://a.test/'))).text, 'streamed');
    } finally {
      t2.close();
    }
  } finally {
    t.close();
  }
});

test('a tenant cannot forge host completions: internal entry points are unreachable and fake ids are ignored', async () => {
  const value = await e.run(`
    const names = ['dispatch', 'complete', 'fire', 'pull', 'bindModule', 'bindScript', 'install', 'shims', 'hostCall', 'bridge'];
    return names.filter((n) => n in globalThis);`);
  assert.deepEqual(value, []);
});
