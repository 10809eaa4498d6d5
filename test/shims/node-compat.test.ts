// nodejs_compat: Workers code that imports Node built-ins deploys unmodified and runs on islet's
// built-in modules, built and linked the way a real deployment is (deploy build + tenant loader).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { fetchText, request, makeSandbox, loadModule } from './helpers';
import { deploySandbox } from './deploy-helpers';
import { DeployError } from '../../server/errors';

/** deploys `code` as index.js, sends one request, returns the JSON it answered */
async function runWorker(
  code: string,
  options: Parameters<typeof deploySandbox>[1] = {},
  files: Record<string, string> = {},
): Promise<any> {
  const t = await deploySandbox({ 'index.js': code, ...files }, options);
  try {
    const r = await fetchText(t, request('http://tenant.test/?q=1'));
    assert.equal(r.status, 200, r.text);
    return JSON.parse(r.text);
  } finally {
    t.close();
  }
}

test("a worker using import { Buffer } from 'node:buffer' and node:crypto HMAC answers as on Workers", async () => {
  const out = await runWorker(
    `
    import { Buffer } from 'node:buffer';
    import { createHmac } from 'node:crypto';
    export default {
      async fetch(request, env) {
        const body = Buffer.from('{"user":"ada"}');
        const signature = createHmac('sha256', env.SECRET).update(body).digest('base64url');
        const b64 = Buffer.from('aGk', 'base64url').toString();
        return Response.json({ signature, hex: body.toString('hex'), isBuffer: Buffer.isBuffer(body), b64 });
      },
    };`,
    { env: { SECRET: 's3cret' } },
  );
  assert.equal(out.signature, crypto.createHmac('sha256', 's3cret').update('{"user":"ada"}').digest('base64url'));
  assert.equal(out.hex, Buffer.from('{"user":"ada"}').toString('hex'));
  assert.equal(out.isBuffer, true);
  assert.equal(out.b64, 'hi');
});

test('node:crypto hashes, HMACs, key derivation and randomness match Node', async () => {
  const out = await runWorker(`
    import crypto from 'node:crypto';
    import { Buffer } from 'node:buffer';
    import { createHash, pbkdf2Sync, scryptSync, hkdfSync, randomBytes, randomInt } from 'crypto';
    import { randomUUID, timingSafeEqual, webcrypto, getHashes } from 'crypto';
    export default {
      async fetch() {
        const ints = Array.from({ length: 200 }, () => randomInt(3, 7));
        let unequal;
        try { timingSafeEqual(new Uint8Array(2), new Uint8Array(3)); } catch (e) { unequal = e.code; }
        const pb = await new Promise((res, rej) =>
          crypto.pbkdf2('pw', 'salt', 1000, 32, 'sha512', (e, k) => e ? rej(e) : res(k.toString('hex'))));
        return Response.json({
          md5: createHash('md5').update('abc').digest('hex'),
          sha1: createHash('sha1').update('abc').digest('base64'),
          sha512: createHash('SHA-512').update('a').update('bc').digest('hex'),
          copy: (() => {
            const h = createHash('sha256').update('ab');
            const c = h.copy();
            h.update('c');
            return [h.digest('hex'), c.digest('hex')];
          })(),
          hmacMd5: crypto.createHmac('md5', 'k').update('m').digest('hex'),
          pbkdf2: pbkdf2Sync('pw', 'salt', 1000, 32, 'sha256').toString('hex'),
          pbkdf2Async: pb,
          scrypt: scryptSync('pw', 'salt', 16, { N: 1024 }).toString('hex'),
          hkdf: Buffer.from(hkdfSync('sha256', 'key', 'salt', 'info', 16)).toString('hex'),
          random: randomBytes(70000).length,
          ints: [Math.min(...ints), Math.max(...ints)],
          uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(randomUUID()),
          equal: [
            timingSafeEqual(Buffer.from('ab'), Buffer.from('ab')),
            timingSafeEqual(Buffer.from('ab'), Buffer.from('ac')),
          ],
          unequal,
          subtle: webcrypto.subtle === crypto.subtle && typeof crypto.subtle.digest,
          hashes: getHashes().includes('sha256'),
        });
      },
    };`);
  const node = (alg: string, data: string, enc: 'hex' | 'base64' = 'hex') =>
    crypto.createHash(alg).update(data).digest(enc);
  assert.equal(out.md5, node('md5', 'abc'));
  assert.equal(out.sha1, node('sha1', 'abc', 'base64'));
  assert.equal(out.sha512, node('sha512', 'abc'));
  assert.deepEqual(out.copy, [node('sha256', 'abc'), node('sha256', 'ab')]);
  assert.equal(out.hmacMd5, crypto.createHmac('md5', 'k').update('m').digest('hex'));
  assert.equal(out.pbkdf2, crypto.pbkdf2Sync('pw', 'salt', 1000, 32, 'sha256').toString('hex'));
  assert.equal(out.pbkdf2Async, crypto.pbkdf2Sync('pw', 'salt', 1000, 32, 'sha512').toString('hex'));
  assert.equal(out.scrypt, crypto.scryptSync('pw', 'salt', 16, { N: 1024 }).toString('hex'));
  assert.equal(out.hkdf, Buffer.from(crypto.hkdfSync('sha256', 'key', 'salt', 'info', 16)).toString('hex'));
  assert.equal(out.random, 70000);
  assert.deepEqual(out.ints, [3, 6]);
  assert.equal(out.uuid, true);
  assert.deepEqual(out.equal, [true, false]);
  assert.equal(out.unequal, 'ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH');
  assert.equal(out.subtle, 'function');
  assert.equal(out.hashes, true);
});

test('events, util, path, url, querystring, string_decoder, assert, os, timers and stream work like Node', async () => {
  const out = await runWorker(`
    import { EventEmitter, once } from 'node:events';
    import { Buffer } from 'buffer';
    import util from 'node:util';
    import { isDeepStrictEqual, promisify, types } from 'util';
    import path from 'path';
    import { fileURLToPath, pathToFileURL, parse as parseUrl, format as formatUrl } from 'node:url';
    import qs from 'node:querystring';
    import { StringDecoder } from 'string_decoder';
    import assert, { AssertionError } from 'node:assert';
    import os from 'node:os';
    import { setTimeout as sleep } from 'node:timers/promises';
    import { Readable, Transform, pipeline, PassThrough, Writable } from 'node:stream';
    import { pipeline as pipelineAsync } from 'node:stream/promises';
    import { ReadableStream } from 'node:stream/web';
    export default {
      async fetch() {
        const e = new EventEmitter();
        const got = once(e, 'ping');
        e.emit('ping', 42);
        const [ping] = await got;
        const wait = promisify((ms, cb) => setTimeout(() => cb(null, ms * 2), ms));
        const decoder = new StringDecoder('utf8');
        const euro = Buffer.from('€');
        const decoded = decoder.write(euro.subarray(0, 1)) + decoder.write(euro.subarray(1)) + decoder.end();
        let assertion;
        try { assert.deepStrictEqual({ a: 1 }, { a: 2 }); } catch (err) { assertion = err instanceof AssertionError; }
        const upper = new Transform({ transform(chunk, enc, cb) { cb(null, String(chunk).toUpperCase()); } });
        const collected = [];
        const sink = new Writable({ write(chunk, enc, cb) { collected.push(String(chunk)); cb(); } });
        await pipelineAsync(Readable.from(['a', 'b', 'c']), upper, sink);
        const piped = await new Promise((res, rej) => {
          const out = [];
          const pass = new PassThrough();
          pass.on('data', (c) => out.push(String(c)));
          pipeline(Readable.from(['x', 'y']), pass, (err) => err ? rej(err) : res(out.join('')));
        });
        await sleep(5);
        return Response.json({
          ping, doubled: await wait(3),
          format: util.format('%s has %d items: %j', 'cart', 3, { a: 1 }),
          inspect: util.inspect({ a: [1, 2, { b: 'c' }] }),
          deep: [isDeepStrictEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }), isDeepStrictEqual([1], ['1'])],
          types: [
            types.isPromise(Promise.resolve()), types.isUint8Array(new Uint8Array(1)), types.isDate(new Date()),
            types.isTypedArray(new Float64Array(1)), types.isTypedArray([1]), types.isUint8Array(Buffer.alloc(1)),
            types.isUint8Array(new Uint16Array(1)), types.isGeneratorFunction(function* () {}),
            types.isGeneratorFunction(() => {}), types.isAsyncFunction(async () => {}),
            (function () { return types.isArgumentsObject(arguments); })(), types.isArgumentsObject([]),
            types.isAnyArrayBuffer(new ArrayBuffer(1)), types.isMap(new Map()), types.isRegExp(/x/),
          ],
          text: [typeof util.TextEncoder, typeof util.TextDecoder],
          path: [
            path.join('/a/b', '../c', 'd.txt'), path.extname('x.tar.gz'), path.resolve('x'),
            path.relative('/a/b', '/a/c/d'), path.posix === path,
          ],
          url: [
            fileURLToPath('file:///tmp/a%20b'), pathToFileURL('/tmp/a b').href,
            parseUrl('http://u:p@h.com:8080/p/a?x=1#h', true).query.x,
            formatUrl({ protocol: 'https', hostname: 'e.com', pathname: '/x' }),
          ],
          qs: [qs.stringify({ a: [1, 2], b: 'x y' }), qs.parse('a=1&a=2&b=%20').a, qs.escape('a b&')],
          decoded, assertion,
          os: [os.EOL, os.platform(), typeof os.cpus().length],
          stream: collected.join(''), piped,
          web: typeof ReadableStream === 'function' && ReadableStream === globalThis.ReadableStream,
        });
      },
    };`);
  assert.equal(out.ping, 42);
  assert.equal(out.doubled, 6);
  assert.equal(out.format, 'cart has 3 items: {"a":1}');
  assert.match(out.inspect, /a: \[ 1, 2, \{ b: 'c' \} \]/);
  assert.deepEqual(out.deep, [true, false]);
  const expectedTypes = [true, true, true, true, false, true, false, true, false, true, true, false, true, true, true];
  assert.deepEqual(out.types, expectedTypes);
  assert.deepEqual(out.text, ['function', 'function']);
  assert.deepEqual(out.path, ['/a/c/d.txt', '.gz', '/x', '../c/d', true]);
  assert.deepEqual(out.url, ['/tmp/a b', 'file:///tmp/a%20b', '1', 'https://e.com/x']);
  assert.deepEqual(out.qs, ['a=1&a=2&b=x%20y', ['1', '2'], 'a%20b%26']);
  assert.equal(out.decoded, '€');
  assert.equal(out.assertion, true);
  assert.deepEqual(out.os, ['\n', 'linux', 'number']);
  assert.equal(out.stream, 'ABC');
  assert.equal(out.piped, 'xy');
  assert.equal(out.web, true);
});

test('AsyncLocalStorage keeps its store through run(), timers, queueMicrotask and process.nextTick', async () => {
  const out = await runWorker(`
    import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
    import process from 'node:process';
    const als = new AsyncLocalStorage();
    const other = new AsyncLocalStorage();
    export default {
      async fetch() {
        const seen = {};
        await als.run('request-1', () => new Promise((resolve) => {
          seen.sync = als.getStore();
          other.run('inner', () => { seen.both = [als.getStore(), other.getStore()]; });
          setTimeout(() => { seen.timer = als.getStore(); resolve(); }, 1);
          queueMicrotask(() => { seen.microtask = als.getStore(); });
          process.nextTick(() => { seen.tick = als.getStore(); });
        }));
        seen.outside = als.getStore() ?? null;
        const bound = als.run('bound', () => AsyncLocalStorage.bind(() => als.getStore()));
        seen.bound = bound();
        const resource = als.run('resource', () => new AsyncResource('X'));
        seen.resource = resource.runInAsyncScope(() => als.getStore());
        return Response.json(seen);
      },
    };`);
  assert.deepEqual(out, {
    sync: 'request-1',
    both: ['request-1', 'inner'],
    timer: 'request-1',
    microtask: 'request-1',
    tick: 'request-1',
    outside: null,
    bound: 'bound',
    resource: 'resource',
  });
});

test('CommonJS packages that require() Node built-ins by their bare names deploy and run', async () => {
  const out = await runWorker(
    `import Emitter from 'legacy-emitter';
     export default {
       fetch() { const e = new Emitter(); return Response.json({ value: e.fire(), buffer: e.buffer() }); },
     };`,
    {},
    {
      'node_modules/legacy-emitter/package.json': '{"name":"legacy-emitter","main":"index.js"}',
      'node_modules/legacy-emitter/index.js': `
        const EventEmitter = require('events');
        const { Buffer } = require('node:buffer');
        const util = require('util');
        class Emitter extends EventEmitter {
          fire() {
            let got;
            this.on('x', (v) => { got = v; });
            this.emit('x', util.format('%s!', 'fired'));
            return got;
          }
          buffer() { return Buffer.from('ok').toString('base64'); }
        }
        module.exports = Emitter;`,
    },
  );
  assert.deepEqual(out, { value: 'fired!', buffer: 'b2s=' });
});

test('modules islet cannot offer (fs, net, child_process...) import, and throw a clear error when used', async () => {
  const out = await runWorker(`
    import fs, { readFileSync } from 'node:fs';
    import { spawn } from 'child_process';
    import * as net from 'node:net';
    const errors = [];
    const uses = [
      () => readFileSync('/etc/passwd'), () => fs.promises.readFile('/x'), () => spawn('ls'), () => new net.Socket(),
    ];
    for (const use of uses) {
      try { use(); errors.push('no error'); } catch (e) { errors.push(e.code + ': ' + e.message); }
    }
    export default { fetch() { return Response.json(errors); } };`);
  assert.equal(out.length, 4);
  assert.match(out[0], /^ERR_NOT_AVAILABLE_IN_ISLET: readFileSync from node:fs is not available in islet/);
  assert.match(out[1], /promises from node:fs is not available in islet/);
  assert.match(out[2], /spawn from node:child_process is not available in islet/);
  assert.match(out[3], /Socket from node:net is not available in islet/);
});

test('with nodejs_compat, Buffer and process are globals, process.env holds the vars', async () => {
  const code = `export default { fetch() { return Response.json({
    buffer: typeof Buffer === 'function' ? Buffer.from('hi').toString('hex') : typeof Buffer,
    env: typeof process === 'object' ? process.env.GREETING : typeof process,
    nextTick: typeof process === 'object' && typeof process.nextTick,
    version: typeof process === 'object' && process.version,
  }); } };`;
  const on = await runWorker(code, {
    env: { GREETING: 'hello' },
    compatibility: { compatibility_date: '2025-01-01', compatibility_flags: ['nodejs_compat'] },
  });
  assert.deepEqual(on, { buffer: '6869', env: 'hello', nextTick: 'function', version: 'v22.14.0' });
  const off = await runWorker(code, { env: { GREETING: 'hello' } });
  assert.deepEqual(off, { buffer: 'undefined', env: 'undefined', nextTick: false, version: false });
});

test('the deploy refuses unknown built-ins, other cloudflare: modules and islet:internal, saying why', async () => {
  const refused = async (code: string): Promise<string> => {
    try {
      (await deploySandbox({ 'index.js': code })).close();
    } catch (error) {
      assert.ok(error instanceof DeployError, String(error));
      return error.message;
    }
    throw new Error('the deploy was expected to fail');
  };
  assert.match(
    await refused(`import x from 'node:nonexistent'; export default { fetch() {} };`),
    /node:nonexistent is not a Node.js built-in module islet offers/,
  );
  assert.match(
    await refused(`import { connect } from 'cloudflare:sockets'; export default { fetch() {} };`),
    /islet offers cloudflare:workers, not cloudflare:sockets/,
  );
  assert.match(
    await refused(`import { internals } from 'islet:internal'; export default { fetch() {} };`),
    /URL imports are not supported/,
  );
  assert.match(
    await refused(
      `import { Buffer } from 'node:buffer';
       addEventListener('fetch', (e) => e.respondWith(new Response(Buffer.from('x'))));`,
    ),
    /classic script .* only ES modules can import built-in modules/,
  );
});

test('with bundle=true the built-ins stay imports of the one bundled module', async () => {
  const out = await runWorker(
    `import { Buffer } from 'node:buffer';
     import { format } from 'util';
     import greet from 'greeter';
     export default {
       fetch() { return Response.json({ text: greet(Buffer.from('ada').toString('hex')), fmt: format('%d!', 7) }); },
     };`,
    { bundle: true },
    {
      'node_modules/greeter/package.json': '{"name":"greeter","main":"index.js"}',
      'node_modules/greeter/index.js': `const { EventEmitter } = require('events');
        module.exports = (x) => (new EventEmitter() instanceof EventEmitter) + ':' + x;`,
    },
  );
  assert.deepEqual(out, { text: 'true:616461', fmt: '7!' });
});

test('AsyncLocalStorage.enterWith in one request is not seen by the next', async () => {
  const t = await deploySandbox({
    'index.js': `import { AsyncLocalStorage } from 'node:async_hooks';
      const als = new AsyncLocalStorage();
      export default { fetch(request) {
        const before = als.getStore() ?? null;
        als.enterWith(new URL(request.url).pathname);
        return Response.json({ before, now: als.getStore() });
      } };`,
  });
  try {
    const first = JSON.parse((await fetchText(t, request('http://x.test/one'))).text);
    const second = JSON.parse((await fetchText(t, request('http://x.test/two'))).text);
    assert.deepEqual(
      [first, second],
      [
        { before: null, now: '/one' },
        { before: null, now: '/two' },
      ],
    );
  } finally {
    t.close();
  }
});

test('the test helper loadModule links built-ins as the loader does (node:, bare names, nodejs_compat)', async () => {
  const t = makeSandbox({ env: { NAME: 'ada' } });
  try {
    loadModule(
      t,
      `import { Buffer } from 'node:buffer';
       import { EventEmitter } from 'events';
       export default { fetch() {
         return new Response([Buffer.from('ok').toString('hex'), typeof EventEmitter, process.env.NAME].join(' '));
       } };`,
      { compatibility: { compatibility_flags: ['nodejs_compat'] } },
    );
    assert.equal((await fetchText(t, request('http://x.test/'))).text, '6f6b function ada');
  } finally {
    t.close();
  }
});

test('Readable.toWeb answers with a Node stream; Readable.fromWeb reads a request body the Node way', async () => {
  const t = await deploySandbox({
    'index.js': `
      import { Readable, Transform, Writable } from 'node:stream';
      export default {
        async fetch(request) {
          const upper = new Transform({ transform(chunk, enc, cb) { cb(null, String(chunk).toUpperCase()); } });
          const body = Readable.fromWeb(request.body).pipe(upper);
          const seen = [];
          const web = new WritableStream({ write(chunk) { seen.push(new TextDecoder().decode(chunk)); } });
          const sink = Writable.fromWeb(web);
          await new Promise((resolve, reject) =>
            Readable.from(['w', 'e', 'b']).pipe(sink).on('finish', resolve).on('error', reject));
          return new Response(Readable.toWeb(body), { headers: { 'x-sink': seen.join('') } });
        },
      };`,
  });
  try {
    const r = await fetchText(t, request('http://x.test/', { method: 'POST', body: 'hello node streams' }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, 'HELLO NODE STREAMS');
    assert.equal(r.headers[r.headers.indexOf('x-sink') + 1], 'web');
  } finally {
    t.close();
  }
});
