// CompressionStream / DecompressionStream edge cases of the Compression Standard: input that goes
// on after the end of the compressed data is an error, a stream that failed or was abandoned
// never holds the host's zlib work slots (other requests, other tenants, keep compressing), and
// chunks are any BufferSource.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEvaluator } from './helpers';

const e = makeEvaluator();
after(() => e.close());

/** inside the isolate: decompress `input` written as one chunk; 'ok:<text>' or the error's name */
const decompressHelper = `
  async function decompress(format, bytes) {
    const ds = new DecompressionStream(format);
    const writer = ds.writable.getWriter();
    writer.write(bytes).catch(() => {});
    writer.close().catch(() => {});
    try { return 'ok:' + await new Response(ds.readable).text(); } catch (err) { return err.name; }
  }
  async function compress(format, text) {
    const stream = new Blob([text]).stream().pipeThrough(new CompressionStream(format));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }
  const withJunk = (bytes) => { const out = new Uint8Array(bytes.length + 1); out.set(bytes); return out; };
`;

test('trailing bytes after the end of the compressed data make the DecompressionStream error', async () => {
  const value = await e.run(`${decompressHelper}
    const out = {};
    for (const format of ['deflate', 'gzip', 'deflate-raw', 'brotli']) {
      const bytes = await compress(format, 'expected output');
      out[format] = [await decompress(format, bytes), await decompress(format, withJunk(bytes))];
    }
    return out;`);
  assert.deepEqual(value, {
    deflate: ['ok:expected output', 'TypeError'],
    gzip: ['ok:expected output', 'TypeError'],
    'deflate-raw': ['ok:expected output', 'TypeError'],
    brotli: ['ok:expected output', 'TypeError'],
  });
});

test('a chunk written after the compressed data ended errors the stream', async () => {
  const value = await e.run(`${decompressHelper}
    const bytes = await compress('deflate', 'abc');
    const ds = new DecompressionStream('deflate');
    const writer = ds.writable.getWriter();
    const text = new Response(ds.readable).text().then((t) => 'ok:' + t, (err) => err.name);
    await writer.write(bytes);
    const second = await writer.write(new Uint8Array([1, 2, 3])).then(() => 'written', (err) => err.name);
    return [second, await text];`);
  assert.deepEqual(value, ['TypeError', 'TypeError']);
});

test('failed decompressions leave the host able to decompress: many in a row, then a valid one', async () => {
  const value = await e.run(`${decompressHelper}
    const bytes = await compress('deflate', 'still works');
    const failures = [];
    for (let i = 0; i < 6; i++) failures.push(await decompress('deflate', withJunk(bytes)));
    return [failures, await decompress('deflate', bytes)];`);
  assert.deepEqual(value, [Array(6).fill('TypeError'), 'ok:still works']);
});

test('an empty input is an error for every format, and a stream decompresses split into single bytes', async () => {
  const value = await e.run(`${decompressHelper}
    const empty = [];
    for (const format of ['deflate', 'gzip', 'deflate-raw']) empty.push(await decompress(format, new Uint8Array(0)));
    const bytes = await compress('gzip', 'one byte at a time');
    const ds = new DecompressionStream('gzip');
    const writer = ds.writable.getWriter();
    for (const b of bytes) writer.write(new Uint8Array([b]));
    writer.close();
    return [empty, await new Response(ds.readable).text()];`);
  assert.deepEqual(value, [['TypeError', 'TypeError', 'TypeError'], 'one byte at a time']);
});

test("'brotli' is a format of the Compression Standard: it round-trips, and its output is real brotli", async () => {
  const value = await e.run(`${decompressHelper}
    const text = 'brotli, brotli, brotli '.repeat(50);
    const bytes = await compress('brotli', text);
    return [bytes.length < text.length, await decompress('brotli', bytes), Array.from(bytes)];`);
  const [smaller, roundTrip, bytes] = value as [boolean, string, number[]];
  assert.equal(smaller, true);
  assert.equal(roundTrip, `ok:${'brotli, brotli, brotli '.repeat(50)}`);
  // decoded on the host by Node's own brotli: the isolate produced the real format
  const { brotliDecompressSync } = await import('node:zlib');
  assert.equal(brotliDecompressSync(Buffer.from(bytes)).toString(), 'brotli, brotli, brotli '.repeat(50));
});
