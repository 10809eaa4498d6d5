// node:zlib in a deployed worker (issue 18): the tenant's gzip/deflate/deflate-raw/brotli output
// is read back by Node's own zlib here, and Node's output is read by the tenant, in every form
// (streams, callbacks with util.promisify, *Sync); options, bad data and the sync cap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { fetchText, request } from './helpers';
import { deploySandbox } from './deploy-helpers';

const text = 'islet compresses this line on the host. '.repeat(400);

/** deploys `code` (the body of an async fetch handler that returns a JSON-able value) and runs it once */
async function run(code: string, body?: string): Promise<any> {
  const t = await deploySandbox({
    'index.js': `import zlib, { gzipSync, gunzipSync, createGzip, createGunzip, constants } from 'node:zlib';
      import { promisify } from 'node:util';
      import { pipeline } from 'node:stream/promises';
      import { Readable } from 'node:stream';
      import { Buffer } from 'node:buffer';
      export default { async fetch(request) { const input = await request.text(); ${code} } };`,
  });
  try {
    const r = await fetchText(t, request('http://x.test/', { method: 'POST', body: body ?? text }));
    assert.equal(r.status, 200, r.text);
    return JSON.parse(r.text);
  } finally {
    t.close();
  }
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

test('every *Sync form compresses what Node decompresses, and decompresses what Node compressed', async () => {
  const ours = await run(`
    const out = {};
    out.gzip = gzipSync(input).toString('base64');
    out.deflate = zlib.deflateSync(input, { level: 9 }).toString('base64');
    out.raw = zlib.deflateRawSync(Buffer.from(input)).toString('base64');
    out.brotli = zlib.brotliCompressSync(input, { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } }).toString('base64');
    const back = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(${JSON.stringify(
      b64(
        Buffer.from(
          JSON.stringify({
            gzip: b64(zlib.gzipSync(text)),
            deflate: b64(zlib.deflateSync(text)),
            raw: b64(zlib.deflateRawSync(text)),
            brotli: b64(zlib.brotliCompressSync(text)),
          }),
        ),
      ),
    )}), (c) => c.charCodeAt(0))));
    const bytes = (s) => Buffer.from(s, 'base64');
    out.read = [
      gunzipSync(bytes(back.gzip)).toString() === input,
      zlib.inflateSync(bytes(back.deflate)).toString() === input,
      zlib.inflateRawSync(bytes(back.raw)).toString() === input,
      zlib.brotliDecompressSync(bytes(back.brotli)).toString() === input,
      zlib.unzipSync(bytes(back.gzip)).toString() === input,
      zlib.unzipSync(bytes(back.deflate)).toString() === input,
    ];
    return Response.json(out);`);
  const bytes = (s: string) => Buffer.from(s, 'base64');
  assert.equal(zlib.gunzipSync(bytes(ours.gzip)).toString(), text);
  assert.equal(zlib.inflateSync(bytes(ours.deflate)).toString(), text);
  assert.equal(zlib.inflateRawSync(bytes(ours.raw)).toString(), text);
  assert.equal(zlib.brotliDecompressSync(bytes(ours.brotli)).toString(), text);
  assert.ok(bytes(ours.gzip).length < text.length / 10);
  assert.deepEqual(ours.read, [true, true, true, true, true, true]);
});

test('callback forms (and util.promisify of them) and streams through pipeline round-trip', async () => {
  const out = await run(`
    const gz = await promisify(zlib.gzip)(input);
    const br = await new Promise((resolve, reject) => zlib.brotliCompress(input, (err, res) => err ? reject(err) : resolve(res)));
    const back = [(await promisify(zlib.gunzip)(gz)).toString() === input, (await promisify(zlib.brotliDecompress)(br)).toString() === input];
    // streamed: many small writes through createGzip, then createGunzip
    const chunks = [];
    await pipeline(Readable.from(input.match(/.{1,100}/gs).map((s) => Buffer.from(s))), createGzip(), async function* (source) {
      for await (const chunk of source) chunks.push(chunk);
    });
    const streamed = Buffer.concat(chunks);
    let text = '';
    const gunzip = createGunzip();
    gunzip.on('data', (c) => { text += c.toString(); });
    const ended = new Promise((resolve, reject) => { gunzip.on('end', resolve); gunzip.on('error', reject); });
    gunzip.write(streamed.subarray(0, 7));
    gunzip.end(streamed.subarray(7));
    await ended;
    return Response.json({ gz: gz.toString('base64'), streamed: streamed.toString('base64'), back, text: text === input, isBuffer: Buffer.isBuffer(gz) });`);
  assert.equal(zlib.gunzipSync(Buffer.from(out.gz, 'base64')).toString(), text);
  assert.equal(zlib.gunzipSync(Buffer.from(out.streamed, 'base64')).toString(), text);
  assert.deepEqual([out.back, out.text, out.isBuffer], [[true, true], true, true]);
});

test('bad data fails as in Node (an Error with a Z_ code); refused options and oversized sync input are clear errors', async () => {
  const out = await run(`
    const attempt = (fn) => { try { fn(); return 'no error'; } catch (err) { return [err.name, err.code ?? null, err.message]; } };
    const bad = attempt(() => gunzipSync(Buffer.from('not gzip at all')));
    const level = attempt(() => gzipSync(input, { level: 42 }));
    const dictionary = attempt(() => zlib.deflateSync(input, { dictionary: Buffer.from('x') }));
    const big = attempt(() => gzipSync(new Uint8Array(5 * 1024 * 1024)));
    let streamed; try { await promisify(zlib.inflate)(Buffer.from('garbage')); } catch (err) { streamed = [err.name, err.code ?? null]; }
    return Response.json({ bad, level, dictionary, big, streamed, legacy: zlib.Z_BEST_COMPRESSION });`);
  assert.deepEqual(out.bad.slice(0, 2), ['Error', 'Z_DATA_ERROR']);
  assert.equal(out.level[0], 'RangeError');
  assert.match(out.level[2], /level/);
  assert.match(out.dictionary[2], /dictionary.*not supported in islet/);
  assert.equal(out.big[0], 'RangeError');
  assert.match(out.big[2], /streaming or callback forms/);
  assert.deepEqual(out.streamed, ['Error', 'Z_DATA_ERROR']);
  assert.equal(out.legacy, 9);
});
