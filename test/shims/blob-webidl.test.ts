// Blob and File constructors as WebIDL converts their arguments (File API): which values are
// refused, the order getters and conversions run in (parts first, then the options dictionary's
// members in lexicographic order), `endings`, and strings as USVStrings. Only what code can see
// without a FileReader, which workers do not have.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEvaluator, runThrows } from './helpers';

const e = makeEvaluator();
after(() => e.close());

test('Blob.length is 0 and File.length is 2 (their optional arguments do not count)', async () => {
  assert.deepEqual(await e.run(`return [Blob.length, File.length];`), [0, 2]);
});

test('blob parts must be an iterable object: null, numbers, strings, Dates and RegExps are TypeErrors', async () => {
  for (const arg of ['null', '123', '"abc"', 'new Date()', '/re/', '{}']) {
    assert.equal((await runThrows(e, `new Blob(${arg})`)).name, 'TypeError', arg);
  }
  assert.equal((await runThrows(e, `new File(null, 'a.txt')`)).name, 'TypeError');
});

test('options must be an object, null or undefined; anything else is a TypeError', async () => {
  for (const arg of ['123', '123.4', 'true', '"abc"']) {
    assert.equal((await runThrows(e, `new Blob([], ${arg})`)).name, 'TypeError', arg);
    assert.equal((await runThrows(e, `new File([], 'f', ${arg})`)).name, 'TypeError', arg);
  }
  const types = await e.run(`return [null, undefined, {}, /re/, function () {}].map((o) => new Blob(['x'], o).type);`);
  assert.deepEqual(types, ['', '', '', '', '']);
});

test('the parts are read once through their iterator, each converted as it is read, before the options', async () => {
  const value = await e.run(`
    const log = [];
    const parts = {
      get [Symbol.iterator]() { log.push('iterator'); return Array.prototype[Symbol.iterator]; },
      get length() { log.push('length'); return 2; },
      get 0() { log.push('get 0'); return { toString() { log.push('toString 0'); return 'a'; } }; },
      get 1() { log.push('get 1'); return { toString() { log.push('toString 1'); return 'b'; } }; },
    };
    const options = {
      get type() { log.push('type'); return { toString() { log.push('toString type'); return 'Text/Plain'; } }; },
      get endings() {
        log.push('endings');
        return { toString() { log.push('toString endings'); return 'transparent'; } };
      },
    };
    const blob = new Blob(parts, options);
    return [log, blob.type, await blob.text()];`);
  assert.deepEqual(value, [
    [
      'iterator',
      'length',
      'get 0',
      'toString 0',
      'length',
      'get 1',
      'toString 1',
      'length',
      'endings',
      'toString endings',
      'type',
      'toString type',
    ],
    'text/plain',
    'ab',
  ]);
});

test("endings: 'native' turns CR and CRLF in string parts into LF, an unknown value is a TypeError", async () => {
  const value = await e.run(`
    const native = await new Blob(['a\\r\\nb\\rc\\n', new Uint8Array([13, 10])], { endings: 'native' }).bytes();
    const transparent = await new Blob(['a\\r\\nb'], { endings: 'transparent' }).text();
    return [Array.from(native), transparent];`);
  assert.deepEqual(value, [[97, 10, 98, 10, 99, 10, 13, 10], 'a\r\nb']);
  assert.equal((await runThrows(e, `new Blob([], { endings: 'invalid' })`)).name, 'TypeError');
});

test('string parts are USVStrings: a lone surrogate becomes U+FFFD', async () => {
  const value = await e.run(`return Array.from(await new Blob(['\\ud800']).bytes());`);
  assert.deepEqual(value, [0xef, 0xbf, 0xbd]);
});

test('File converts its name and lastModified and keeps both; Blob parts may be Blobs and buffers', async () => {
  const value = await e.run(`
    const parts = [new Blob(['a']), new Uint8Array([98]).buffer, new Uint16Array([0x6363])];
    const f = new File(parts, { toString: () => 'n.txt' }, { lastModified: '42', type: 'TEXT/X' });
    return [f.name, f.lastModified, f.type, await f.text(), f instanceof Blob];`);
  assert.deepEqual(value, ['n.txt', 42, 'text/x', 'abcc', true]);
});
