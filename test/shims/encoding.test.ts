import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEvaluator, runThrows } from './helpers';

const e = makeEvaluator();
after(() => e.close());

test('TextEncoder encodes UTF-8, replacing lone surrogates; encodeInto reports read/written', async () => {
  const value = await e.run(`
    const enc = new TextEncoder();
    const dest = new Uint8Array(4);
    return [enc.encoding, [...enc.encode('aé€😀')], [...enc.encode('\\ud800')], enc.encodeInto('a€😀', dest), [...dest]];`);
  assert.deepEqual(value, ['utf-8', [97, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80], [0xef, 0xbf, 0xbd], { read: 2, written: 4 }, [97, 0xe2, 0x82, 0xac]]);
});

test('TextDecoder: BOM handling, replacement, fatal mode, streaming split sequences, labels', async () => {
  const value = await e.run(`
    const d = new TextDecoder();
    const bom = d.decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x61]));
    const keepBom = new TextDecoder('utf-8', { ignoreBOM: true }).decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x61]));
    const bad = d.decode(new Uint8Array([0x61, 0xff, 0x62, 0xe2, 0x82]));
    let fatal = null; try { new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array([0xff])); } catch (err) { fatal = err.name; }
    const s = new TextDecoder();
    const streamed = s.decode(new Uint8Array([0xe2, 0x82]), { stream: true }) + s.decode(new Uint8Array([0xac]));
    let label = null; try { new TextDecoder('klingon'); } catch (err) { label = err.name; }
    return [bom, keepBom, bad, fatal, streamed, label, new TextDecoder('UTF8').encoding, new TextDecoder('latin1').decode(new Uint8Array([0xe9, 0x80]))];`);
  assert.deepEqual(value, ['a', '\ufeffa', 'a\ufffdb\ufffd', 'TypeError', '€', 'RangeError', 'utf-8', 'é€']);
});

test('long strings round-trip through the host codec', async () => {
  const value = await e.run(`
    const text = 'é'.repeat(50000) + '😀';
    const bytes = new TextEncoder().encode(text);
    return [bytes.length, new TextDecoder().decode(bytes) === text, bytes.buffer.byteLength];`);
  assert.deepEqual(value, [100004, true, 100004]);
});

test('atob/btoa follow forgiving-base64 and throw InvalidCharacterError', async () => {
  const value = await e.run(`return [btoa('hello'), atob('aGVsbG8='), atob(' aGVs bG8 '), atob('aGVsbG8'), btoa('\\xff')];`);
  assert.deepEqual(value, ['aGVsbG8=', 'hello', 'hello', 'hello', '/w==']);
  const a = await runThrows(e, `atob('a')`);
  assert.equal(a.name, 'InvalidCharacterError');
  assert.equal(a.ctor, 'DOMException');
  assert.equal((await runThrows(e, `btoa('€')`)).name, 'InvalidCharacterError');
});

test('TextEncoderStream and TextDecoderStream transform chunks, splitting multi-byte sequences', async () => {
  const value = await e.run(`
    const bytes = new TextEncoder().encode('h€llo');
    const source = new ReadableStream({ start(c) { c.enqueue(bytes.slice(0, 2)); c.enqueue(bytes.slice(2)); c.close(); } });
    let text = '';
    for await (const chunk of source.pipeThrough(new TextDecoderStream())) text += chunk;
    const encoded = [];
    const s2 = new ReadableStream({ start(c) { c.enqueue('a'); c.enqueue('\\ud83d'); c.enqueue('\\ude00'); c.close(); } }).pipeThrough(new TextEncoderStream());
    for await (const chunk of s2) encoded.push(...chunk);
    return [text, encoded];`);
  assert.deepEqual(value, ['h€llo', [97, 0xf0, 0x9f, 0x98, 0x80]]);
});

test('CompressionStream and DecompressionStream round-trip gzip, deflate and deflate-raw; gzip output is real gzip', async () => {
  const value = await e.run(`
    const text = 'hello compression '.repeat(200);
    const out = {};
    for (const format of ['gzip', 'deflate', 'deflate-raw']) {
      const compressed = await new Response(new Blob([text]).stream().pipeThrough(new CompressionStream(format))).arrayBuffer();
      const back = await new Response(new Response(compressed).body.pipeThrough(new DecompressionStream(format))).text();
      out[format] = [compressed.byteLength < text.length, back === text];
    }
    const gz = new Uint8Array(await new Response(new Blob(['x']).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer());
    let bad; try { await new Response(new Blob(['not gzip']).stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer(); } catch (err) { bad = err.name; }
    let unknown; try { new CompressionStream('zstd'); } catch (err) { unknown = err.name; }
    return [out, [gz[0], gz[1]], bad, unknown];`);
  assert.deepEqual(value, [{ gzip: [true, true], deflate: [true, true], 'deflate-raw': [true, true] }, [0x1f, 0x8b], 'TypeError', 'TypeError']);
});

test('TextDecoder trims only ASCII whitespace around a label (tab, LF, FF, CR, space)', async () => {
  const value = await e.run(`
    const accepted = ['\\t\\n\\f\\r utf-8 \\r\\f\\n\\t', ' UTF8 ', '\\tlatin1\\n']
      .map((l) => new TextDecoder(l).encoding);
    const labels = ['\\vutf-8', 'utf-8\\v', '\\u00a0utf-8', 'utf-8\\u00a0', '\\u2028utf-8', '\\ufeffutf-8'];
    const rejected = labels.map((l) => {
      try { new TextDecoder(l); return 'accepted'; } catch (err) { return err.name; }
    });
    return [accepted, rejected];`);
  assert.deepEqual(value, [['utf-8', 'utf-8', 'windows-1252'], Array(6).fill('RangeError')]);
});

test('UTF-16LE decoding replaces lone surrogates (or throws when fatal), even when a pair is split', async () => {
  const value = await e.run(`
    const bytes = (...units) => new Uint8Array(units.flatMap((u) => [u & 0xff, u >> 8]));
    const d = new TextDecoder('utf-16le');
    const lone = [d.decode(bytes(0x61, 0xd800, 0x62)), d.decode(bytes(0xdc00, 0x61)), d.decode(bytes(0x61, 0xd800))];
    const split = new TextDecoder('utf-16le');
    const pair = split.decode(bytes(0xd83d), { stream: true }) + split.decode(bytes(0xde00));
    let fatal;
    try { new TextDecoder('utf-16le', { fatal: true }).decode(bytes(0xdc00)); } catch (err) { fatal = err.name; }
    return [lone, pair, fatal];`);
  assert.deepEqual(value, [['a\ufffdb', '\ufffda', 'a\ufffd'], '\u{1f600}', 'TypeError']);
});

test('TextDecoder reads SharedArrayBuffers and views on them ([AllowShared])', async () => {
  const value = await e.run(`
    const shared = new SharedArrayBuffer(2); new Uint8Array(shared).set([104, 105]);
    return [new TextDecoder().decode(shared), new TextDecoder().decode(new Uint8Array(shared, 1))];`);
  assert.deepEqual(value, ['hi', 'i']);
});

test('TextDecoderStream errors on a chunk that is not a BufferSource (undefined, null)', async () => {
  const value = await e.run(`
    const out = [];
    for (const chunk of [undefined, null, 'text']) {
      const stream = new TextDecoderStream();
      const writer = stream.writable.getWriter();
      const reading = stream.readable.getReader().read().then(() => 'read', (err) => err.name);
      out.push([await writer.write(chunk).then(() => 'written', (err) => err.name), await reading]);
    }
    return out;`);
  assert.deepEqual(value, [
    ['TypeError', 'TypeError'],
    ['TypeError', 'TypeError'],
    ['TypeError', 'TypeError'],
  ]);
});
