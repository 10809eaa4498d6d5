// TextDecoder over every encoding of the WHATWG Encoding Standard (issue 18): the isolate's
// TextDecoder decodes UTF-8, UTF-16LE and windows-1252 itself and every other encoding on the
// host. Expected text comes from Node's own TextDecoder where Node's ICU follows the standard;
// for the encodings where Node 20's ICU does not (or has no decoder), the vectors are code points
// read from the standard's index tables (https://encoding.spec.whatwg.org/, indexes).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEvaluator } from './helpers';

const e = makeEvaluator();
after(() => e.close());

/** encodings whose Node 20 (full ICU) decoder agrees with the standard on the corpora below */
const nodeAgrees = [
  'iso-8859-2',
  'iso-8859-3',
  'iso-8859-4',
  'iso-8859-5',
  'iso-8859-6',
  'iso-8859-7',
  'iso-8859-8',
  'iso-8859-8-i',
  'iso-8859-10',
  'iso-8859-13',
  'iso-8859-14',
  'iso-8859-15',
  'koi8-r',
  'macintosh',
  'windows-1250',
  'windows-1251',
  'windows-1254',
  'windows-1256',
  'windows-1257',
  'windows-1258',
  'x-mac-cyrillic',
  'gb18030',
  'iso-2022-jp',
  'utf-16be',
  'utf-16le',
];

/** the same byte corpora, built in the isolate (as source) and here */
const corpusSource = `
  const single = Array.from({ length: 256 }, (_, i) => i);
  const pairs = [];
  for (let a = 0x81; a < 0xff; a++) for (let b = 0x40; b < 0xff; b += 3) pairs.push(a, b);
  const jis = [0x1b, 0x24, 0x42];
  for (let a = 0x21; a < 0x7f; a += 2) for (let b = 0x21; b < 0x7f; b += 5) jis.push(a, b);
  jis.push(0x1b, 0x28, 0x4a, 0x5c, 0x7e, 0x41, 0x1b, 0x28, 0x49, 0x31, 0x5f, 0x1b, 0x28, 0x42, 0x7a, 0x0e, 0x61);
  const corpus = (encoding) => new Uint8Array(encoding === 'iso-2022-jp' ? jis : [...single, ...pairs]);`;
const corpus = new Function(`${corpusSource}; return corpus;`)() as (encoding: string) => Uint8Array;

test('every encoding Node decodes per the standard decodes the same in the isolate, whole and streamed', async () => {
  for (const encoding of nodeAgrees) {
    const [name, whole, streamed] = (await e.run(`${corpusSource}
      const bytes = corpus(${JSON.stringify(encoding)});
      const whole = new TextDecoder(${JSON.stringify(encoding)}).decode(bytes);
      // streamed in uneven chunks: a multi-byte sequence or an escape split across chunks
      const d = new TextDecoder(${JSON.stringify(encoding)});
      let streamed = '';
      for (let i = 0; i < bytes.length; i += 7) streamed += d.decode(bytes.subarray(i, i + 7), { stream: true });
      streamed += d.decode();
      return [d.encoding, whole, streamed];`)) as [string, string, string];
    const expected = new TextDecoder(encoding).decode(corpus(encoding));
    assert.equal(name, encoding);
    assert.ok(whole === expected, `${encoding}: whole decode differs from Node's`);
    assert.ok(streamed === expected, `${encoding}: streamed decode differs from Node's`);
  }
});

/** [encoding, bytes, text] from the standard's indexes, where Node 20's ICU differs or has no decoder */
const indexVectors: [string, number[], string][] = [
  ['ibm866', [0x80, 0x1a, 0x7f, 0xff], '\u0410\u001a\u007f\u00a0'],
  ['koi8-u', [0xae, 0xbe, 0xa4], '\u045e\u040e\u0454'],
  ['windows-874', [0x80, 0xa1, 0xdb], '\u20ac\u0e01\ufffd'],
  ['windows-1252', [0x80, 0x81, 0x9f], '\u20ac\u0081\u0178'],
  ['windows-1253', [0xa2, 0xaa], '\u0386\ufffd'],
  ['windows-1255', [0xca, 0xe0], '\u05ba\u05d0'],
  ['iso-8859-16', [0xa1, 0xa4, 0xdd], '\u0104\u20ac\u0118'],
  ['x-user-defined', [0x41, 0x80, 0xff], '\u0041\uf780\uf7ff'],
  ['gbk', [0x81, 0x40, 0xa2, 0xe3, 0x80], '\u4e02\u20ac\u20ac'],
  ['big5', [0xa4, 0x40, 0x87, 0x40, 0x88, 0x62], '\u4e00\u43f0\u00ca\u0304'],
  ['euc-jp', [0xa4, 0xa2, 0x8e, 0xb1, 0x8f, 0xb0, 0xa1], '\u3042\uff71\u4e02'],
  ['shift_jis', [0x82, 0xa0, 0xb1, 0x5c, 0x80], '\u3042\uff71\u005c\u0080'],
  ['euc-kr', [0xb0, 0xa1, 0x81, 0x41], '\uac00\uac02'],
];

test("the encodings Node 20 decodes differently follow the standard's index tables", async () => {
  const value = await e.run(`
    return ${JSON.stringify(indexVectors.map(([enc, bytes]) => [enc, bytes]))}
      .map(([enc, bytes]) => new TextDecoder(enc).decode(new Uint8Array(bytes)));`);
  assert.deepEqual(
    value,
    indexVectors.map(([, , text]) => text),
  );
});

test('labels resolve per the standard; replacement and unknown labels throw RangeError', async () => {
  const value = await e.run(`
    const name = (label) => { try { return new TextDecoder(label).encoding; } catch (err) { return err.name; } };
    return ['sjis', 'x-sjis', ' csshiftjis\\n', 'GB2312', 'chinese', 'x-gbk', 'big5-hkscs', 'ks_c_5601-1987',
      'csiso2022jp', 'l2', 'cp1250', 'unicodefffe', 'utf-16', 'iso-2022-kr', 'hz-gb-2312', 'x-mac-ukrainian',
      'dos-874', 'klingon', 'x-user-defined'].map(name);`);
  assert.deepEqual(value, [
    'shift_jis',
    'shift_jis',
    'shift_jis',
    'gbk',
    'gbk',
    'gbk',
    'big5',
    'euc-kr',
    'iso-2022-jp',
    'iso-8859-2',
    'windows-1250',
    'utf-16be',
    'utf-16le',
    'RangeError',
    'RangeError',
    'x-mac-cyrillic',
    'windows-874',
    'RangeError',
    'x-user-defined',
  ]);
});

test(
  'fatal throws TypeError on invalid data; otherwise U+FFFD; a truncated sequence at the end is ' + 'an error',
  async () => {
    const value = await e.run(
      `
    const attempt = (enc, bytes, options) => { try { return new TextDecoder(enc, options).decode(new ` +
        `Uint8Array(bytes)); } catch (err) { return err.name; } };
    return [
      attempt('shift_jis', [0x82, 0xa0, 0xa0, 0xff], { fatal: true }),
      attempt('shift_jis', [0x82, 0xa0, 0xff]),
      attempt('euc-kr', [0xb0], { fatal: true }),
      attempt('euc-kr', [0xb0]),
      attempt('utf-16be', [0xd8, 0x00], { fatal: true }),
      attempt('utf-16be', [0x00, 0x61, 0x00]),
      attempt('iso-2022-jp', [0x1b, 0x24], { fatal: true }),
      attempt('windows-874', [0xdb], { fatal: true }),
      new TextDecoder('big5', { fatal: true }).fatal,
    ];`,
    );
    assert.deepEqual(value, [
      'TypeError',
      '\u3042\ufffd',
      'TypeError',
      '\ufffd',
      'TypeError',
      'a\ufffd',
      'TypeError',
      'TypeError',
      true,
    ]);
  },
);

test('BOM: utf-16be strips its BOM unless ignoreBOM; a BOM split across streamed chunks too', async () => {
  const value = await e.run(
    `
    const bytes = new Uint8Array([0xfe, 0xff, 0x00, 0x61]);
    const d = new TextDecoder('utf-16be');
    const split = d.decode(bytes.subarray(0, 1), { stream: true }) + d.decode(bytes.subarray(1, 3), { stream: ` +
      `true }) + d.decode(bytes.subarray(3));
    return [new TextDecoder('utf-16be').decode(bytes), new TextDecoder('utf-16be', { ignoreBOM: true ` +
      `}).decode(bytes), split,
      new TextDecoder('utf-16be').ignoreBOM, new TextDecoder('gbk').decode(new Uint8Array([0xef, 0xbb, 0xbf]))];`,
  );
  assert.deepEqual(value, [
    'a',
    '\ufeffa',
    'a',
    false,
    new TextDecoder('gb18030').decode(new Uint8Array([0xef, 0xbb, 0xbf])),
  ]);
});

test(
  "streaming keeps state across calls: a split lead byte, iso-2022-jp's mode, and a fresh start " + 'after the end',
  async () => {
    const value = await e.run(
      `
    const sj = new TextDecoder('shift_jis');
    const a = sj.decode(new Uint8Array([0x41, 0x82]), { stream: true }) + sj.decode(new Uint8Array([0xa0]), { ` +
        `stream: true }) + sj.decode();
    const jp = new TextDecoder('iso-2022-jp');
    const b = jp.decode(new Uint8Array([0x1b, 0x24, 0x42]), { stream: true }) + jp.decode(new ` +
        `Uint8Array([0x30, 0x21]), { stream: true }) + jp.decode();
    const again = jp.decode(new Uint8Array([0x30, 0x21]));
    // an unfinished stream ended by a decode without stream: the pending lead byte becomes U+FFFD
    const kr = new TextDecoder('euc-kr');
    const c = kr.decode(new Uint8Array([0xb0]), { stream: true }) + kr.decode();
    return [a, b, again, c];`,
    );
    assert.deepEqual(value, ['A\u3042', '\u4e9c', '0!', '\ufffd']);
  },
);

test('input larger than one host call decodes whole, whole and streamed', async () => {
  const value = await e.run(
    `
    const n = (1 << 20) + 3;
    const bytes = new Uint8Array(n * 2);
    for (let i = 0; i < bytes.length; i += 2) { bytes[i] = 0x82; bytes[i + 1] = 0xa0; }
    const whole = new TextDecoder('shift_jis').decode(bytes);
    const d = new TextDecoder('shift_jis');
    const streamed = d.decode(bytes.subarray(0, 3), { stream: true }) + d.decode(bytes.subarray(3), { stream: ` +
      `true }) + d.decode();
    return [whole.length, whole === 'あ'.repeat(n), streamed === whole];`,
  );
  assert.deepEqual(value, [(1 << 20) + 3, true, true]);
});

test(
  'the host keeps at most 256 streaming decodes per isolate: a dropped one says so, never loses ' + 'bytes silently',
  async () => {
    const value = await e.run(
      `
    const first = new TextDecoder('shift_jis');
    first.decode(new Uint8Array([0x82]), { stream: true });
    const others = [];
    for (let i = 0; i < 256; i++) {
      const d = new TextDecoder('shift_jis');
      d.decode(new Uint8Array([0x41]), { stream: true });
      others.push(d);
    }
    let dropped; try { first.decode(new Uint8Array([0xa0])); } catch (err) { dropped = [err.name, ` +
        `/dropped/.test(err.message)]; }
    // the newest are still there, and a dropped decoder starts afresh on its next call
    const kept = others[255].decode(new Uint8Array([0x82, 0xa0]));
    return [dropped, kept, first.decode(new Uint8Array([0x82, 0xa0]))];`,
    );
    assert.deepEqual(value, [['TypeError', true], '\u3042', '\u3042']);
  },
);
