// What tenant code sees of host work being charged and bounded (issue 16): the Compression
// standard's end-of-stream rules, compression in pieces, crypto.subtle's cost bounds and the
// QuotaExceededError of host memory past the isolate's limit.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { loadModule, makeEvaluator, makeSandbox, readBody, request, runThrows, testLimits } from './helpers';

const e = makeEvaluator();
after(() => e.close());

/** runs `code` in an evaluator of its own, made with `options` (a memory limit, limits), closed after */
async function runAlone(options: Parameters<typeof makeEvaluator>[0], code: string): Promise<any> {
  const alone = makeEvaluator(options);
  try {
    return await alone.run(code);
  } finally {
    alone.close();
  }
}

const bytes = (b: Buffer) => `new Uint8Array([${[...b].join(',')}])`;

/** reads a DecompressionStream fed `chunks` (written without waiting), as the WPT extra-input cases do */
const decompress = (format: string, chunks: string[]) => `
  const ds = new DecompressionStream('${format}');
  const w = ds.writable.getWriter();
  const r = ds.readable.getReader();
  for (const c of [${chunks.join(',')}]) w.write(c).catch(() => {});
  w.close().catch(() => {});
  let text = '', error = null;
  try {
    for (;;) { const { done, value } = await r.read(); if (done) break; text += new TextDecoder().decode(value); }
  } catch (e) { error = e.name + ': ' + e.message; }
  return { text, error };`;

const samples: Record<string, Buffer> = {
  deflate: zlib.deflateSync('hello'),
  'deflate-raw': zlib.deflateRawSync('hello'),
  gzip: zlib.gzipSync('hello'),
};

for (const [format, valid] of Object.entries(samples)) {
  test(`DecompressionStream('${format}'): data after the end of the compressed stream fails with a TypeError after the output`, async () => {
    for (const chunks of [
      [bytes(Buffer.concat([valid, Buffer.from([0])]))],
      [bytes(valid), bytes(Buffer.from([1, 2, 3]))],
      [bytes(Buffer.concat([valid, Buffer.from([0, 0, 0, 0])]))],
    ]) {
      const { text, error } = await e.run(decompress(format, chunks));
      assert.equal(text, 'hello', `the output before the extra data is delivered (${chunks.length} chunks)`);
      // node:zlib reads on after a gzip member when more data follows: that data then fails as a bad
      // header rather than as data after the end (a TypeError all the same)
      const trailing =
        format === 'gzip' && chunks.length === 2
          ? /^TypeError: /
          : /^TypeError: .*after the end of a compressed stream/;
      assert.match(String(error), trailing);
    }
  });
}

test('DecompressionStream: a valid stream still ends cleanly, and a truncated one fails with a TypeError at close', async () => {
  const ok = await e.run(decompress('deflate', [bytes(samples.deflate)]));
  assert.deepEqual(ok, { text: 'hello', error: null });
  const cut = await e.run(decompress('gzip', [bytes(samples.gzip.subarray(0, samples.gzip.length - 3))]));
  assert.match(String(cut.error), /^TypeError: /);
});

test('a chunk of several MiB crosses in pieces and round-trips exactly', async () => {
  const value = await e.run(`
    const big = new Uint8Array(3 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
    const gz = await new Response(new Blob([big]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer();
    const back = new Uint8Array(await new Response(new Response(gz).body.pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
    let same = back.length === big.length;
    for (let i = 0; same && i < big.length; i++) same = back[i] === big[i];
    return [same, back.length];`);
  assert.deepEqual(value, [true, 3 * 1024 * 1024 + 17]);
});

test('crypto.subtle: an HMAC key past 64 KiB, generated or imported, is refused at once', async () => {
  for (const code of [
    `await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256', length: 2 ** 31 - 8 }, false, ['sign'])`,
    `await crypto.subtle.importKey('raw', new Uint8Array(65 * 1024), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])`,
    `await crypto.subtle.importKey('jwk', { kty: 'oct', k: 'A'.repeat(100000) }, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])`,
  ]) {
    const error = await runThrows(e, code);
    assert.equal(error.name, 'NotSupportedError', code);
    assert.match(error.message, /more than the 65536 bytes/);
  }
  // 64 KiB itself is fine
  assert.equal(
    await e.run(
      `const k = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256', length: 65536 * 8 }, true, ['sign']); return (await crypto.subtle.exportKey('raw', k)).byteLength;`,
    ),
    65536,
  );
});

test('crypto.subtle: PBKDF2 is bounded by iterations x output blocks, not iterations alone', async () => {
  const kdf = (iterations: number, bits: number) => `
    const key = await crypto.subtle.importKey('raw', new TextEncoder().encode('pw'), 'PBKDF2', false, ['deriveBits']);
    return (await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt: new Uint8Array(8), iterations: ${iterations} }, key, ${bits})).byteLength;`;
  const big = await runThrows(e, kdf(100_000, 128 * 1024 * 8));
  assert.equal(big.name, 'NotSupportedError');
  assert.match(big.message, /100000 iterations x 4096 output blocks/);
  assert.equal((await runThrows(e, kdf(200_000, 256))).name, 'NotSupportedError');
  // a long output of few iterations is cheap: 1 MiB of 2 iterations
  assert.equal(await e.run(kdf(2, 1024 * 1024 * 8)), 1024 * 1024);
});

test("crypto.subtle: a call that cannot fit in what the request's CPU has left is refused with QuotaExceededError", async () => {
  const tight = makeEvaluator({ limits: { ...testLimits, cpuMs: 20 } });
  try {
    const error = await runThrows(
      tight,
      `const key = await crypto.subtle.importKey('raw', new Uint8Array(8), 'PBKDF2', false, ['deriveBits']);
       await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-512', salt: new Uint8Array(8), iterations: 100000 }, key, 4096);`,
    );
    assert.equal(error.name, 'QuotaExceededError');
    assert.match(error.message, /needs about \d+ ms of CPU, more than the \d+ ms this request has left/);
  } finally {
    tight.close();
  }
});

test('crypto.subtle: keys held on the host are charged to the isolate: past its memory limit, QuotaExceededError', async () => {
  // the isolate's own buffers (a copy of the key material per call) share the limit with what the
  // host holds: the keys end in a QuotaExceededError, or, when its buffers cross the limit first,
  // in the isolate's memory cut; never in a thousand keys on the host
  let value: [number, string, string] | null = null;
  try {
    value = await runAlone(
      { memoryLimit: 16 },
      `
      const raw = new Uint8Array(64 * 1024);
      const keys = [];
      try {
        for (let i = 0; i < 1000; i++) keys.push(await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']));
      } catch (e) { return [keys.length, e.name, e.message]; }
      return [keys.length];`,
    );
  } catch (error) {
    assert.equal((error as { limit?: string }).limit, 'memory', String(error));
    return;
  }
  assert.equal(value![1], 'QuotaExceededError', JSON.stringify(value));
  assert.ok(value![0] > 10 && value![0] < 256, `16 MB holds fewer than 256 keys of 64 KiB: ${value![0]}`);
  assert.match(value![2], /memory limit/);
});

test('compression streams are charged to the isolate: opening thousands fails with QuotaExceededError, not host memory', async () => {
  const value = await runAlone(
    { memoryLimit: 16 },
    `
      const open = [];
      try {
        for (let i = 0; i < 2000; i++) {
          const cs = new CompressionStream('gzip');
          const w = cs.writable.getWriter();
          cs.readable.getReader().read().catch(() => {}); // a reader, so that writes are taken
          await w.write(new Uint8Array(1));
          open.push(w);
        }
      } catch (e) { return [open.length, e.name]; }
      return [open.length];`,
  );
  assert.equal(value[1], 'QuotaExceededError', JSON.stringify(value));
  assert.ok(value[0] < 100, `a 16 MB isolate keeps fewer than 100 deflate states on the host: ${value[0]}`);
});

test('a fetch() body the host would hold past the isolate memory limit is refused with QuotaExceededError', async () => {
  const value = await runAlone(
    { memoryLimit: 64 },
    `
      const body = 'x'.repeat(8 << 20);
      // nothing is listening there (and the egress guard refuses loopback): each fetch fails, but
      // only after its body was handed to the host
      const settled = await Promise.allSettled(Array.from({ length: 6 }, () => fetch('http://127.0.0.1:9/', { method: 'POST', body })));
      return settled.map((s) => s.status === 'rejected' ? s.reason.name + ': ' + s.reason.message : 'ok');`,
  );
  const quota = (value as string[]).filter((v) => v.startsWith('QuotaExceededError'));
  assert.ok(quota.length > 0, JSON.stringify(value));
  assert.match(
    quota[0],
    /fetch: the request body: holding 16\.0 MiB more on the host would pass this isolate's memory limit/,
  );
});

test('a streamed response chunk the host would hold past the isolate memory limit fails the body (QuotaExceededError)', async () => {
  const t = makeSandbox({ memoryLimit: 64, limits: { ...testLimits, responseBodyBytes: 1 << 30 } });
  try {
    loadModule(
      t,
      `export default { fetch() {
        const big = new Uint8Array(40 << 20);
        return new Response(new ReadableStream({ pull(c) { c.enqueue(big); } }));
      } };`,
    );
    const dispatch = t.sandbox.dispatch(request('http://stream.test/'));
    const response = await dispatch.response;
    await assert.rejects(readBody(response), (error: Error) => {
      assert.equal(error.name, 'QuotaExceededError');
      assert.match(error.message, /a chunk of a streamed body: holding 40\.0 MiB more on the host/);
      return true;
    });
    await dispatch.done.catch(() => {});
  } finally {
    t.close();
  }
});
