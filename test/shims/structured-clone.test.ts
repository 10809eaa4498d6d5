// structuredClone beyond plain data (HTML Standard): Blob and File are serializable, wherever they
// sit in the value, and the transfer option detaches the ArrayBuffers it names, refusing a list
// it cannot transfer with a DataCloneError before anything is detached.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEvaluator, runThrows } from './helpers';

const e = makeEvaluator();
after(() => e.close());

test('a Blob clones to a new Blob with the same bytes and type', async () => {
  const value = await e.run(`
    const blob = new Blob(['h\\u00e9llo'], { type: 'text/plain' });
    const copy = structuredClone(blob);
    return [copy instanceof Blob, copy !== blob, copy.type, copy.size, await copy.text()];`);
  assert.deepEqual(value, [true, true, 'text/plain', 6, 'héllo']);
});

test('a File keeps its name and lastModified', async () => {
  const value = await e.run(`
    const copy = structuredClone(new File(['data'], 'a.txt', { type: 'text/x', lastModified: 42 }));
    return [copy instanceof File, copy.name, copy.lastModified, copy.type, await copy.text()];`);
  assert.deepEqual(value, [true, 'a.txt', 42, 'text/x', 'data']);
});

test('Blobs nested in objects, arrays, Maps and Sets clone once each, beside other data and cycles', async () => {
  const value = await e.run(`
    const blob = new Blob(['x']);
    const original = { blob, list: [blob, 1, 'two'], map: new Map([['k', blob]]), set: new Set([blob]) };
    original.date = new Date(7);
    original.self = original;
    const copy = structuredClone(original);
    return [
      copy.blob instanceof Blob, copy.blob !== blob, copy.list[0] === copy.blob, copy.map.get('k') === copy.blob,
      [...copy.set][0] === copy.blob, copy.list.slice(1), copy.date.getTime(), copy.self === copy,
      await copy.blob.text(),
    ];`);
  assert.deepEqual(value, [true, true, true, true, true, [1, 'two'], 7, true, 'x']);
});

test('transfer detaches the ArrayBuffers it lists and the clone keeps their bytes', async () => {
  const value = await e.run(`
    const buffer = new Uint8Array([1, 2, 3]).buffer;
    const copy = structuredClone({ view: new Uint8Array(buffer) }, { transfer: [buffer] });
    return [buffer.byteLength, Array.from(copy.view)];`);
  assert.deepEqual(value, [0, [1, 2, 3]]);
});

test('a transfer list that cannot be transferred is a DataCloneError and detaches nothing', async () => {
  const value = await e.run(`
    const results = [];
    const buffer = new ArrayBuffer(4);
    for (const transfer of [[buffer, buffer], [{}], [new Uint8Array(2)]]) {
      try { structuredClone(buffer, { transfer }); results.push('cloned'); } catch (err) { results.push(err.name); }
    }
    const detached = new ArrayBuffer(1); structuredClone(detached, { transfer: [detached] });
    try {
      structuredClone(detached, { transfer: [detached] });
      results.push('cloned');
    } catch (err) {
      results.push(err.name);
    }
    try { structuredClone({ f() {} }, { transfer: [buffer] }); } catch (err) { results.push(err.name); }
    return [results, buffer.byteLength];`);
  assert.deepEqual(value, [
    ['DataCloneError', 'DataCloneError', 'DataCloneError', 'DataCloneError', 'DataCloneError'],
    4,
  ]);
  assert.equal((await runThrows(e, `structuredClone(1, { transfer: 5 })`)).name, 'TypeError');
});

test('MessagePort.postMessage transfers the buffers it is given, in either overload', async () => {
  const value = await e.run(`
    const { port1, port2 } = new MessageChannel();
    const received = [];
    port2.onmessage = (event) => received.push(event.data.byteLength);
    const a = new ArrayBuffer(3), b = new ArrayBuffer(5);
    port1.postMessage(a, [a]);
    port1.postMessage(b, { transfer: [b] });
    await new Promise((resolve) => setTimeout(resolve, 10));
    port1.close();
    return [a.byteLength, b.byteLength, received];`);
  assert.deepEqual(value, [0, 0, [3, 5]]);
});
