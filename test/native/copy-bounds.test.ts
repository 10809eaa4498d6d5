// Copies of buffers and views across isolates read only the memory the source owns (issue 14,
// item 1: a copy of a length-tracking view over a resizable buffer once handed tenant code the
// bytes of unrelated process memory). Each case runs in a child process.
import { test } from 'node:test';
import { inChild } from './child';

test('a view over a resizable ArrayBuffer copies exactly its bytes, into any isolate and back', async () => {
  await inChild(
    'length-tracking views',
    `const context = new ivm.Isolate().createContextSync();
    for (let round = 0; round < 20; round++) {
      // made in an isolate, copied out: sixteen 7s, nothing else
      const b = 'b' + round;
      const make = 'const ' + b + ' = new ArrayBuffer(16, { maxByteLength: 65536 }); new Uint8Array(' + b + ')';
      const out = context.evalSync(make + '.fill(7)', { copy: true });
      assert.deepEqual([...out], Array(16).fill(7));
      // made in Node, copied in
      const host = new Uint8Array(new ArrayBuffer(16, { maxByteLength: 65536 })).fill(3);
      context.global.setSync('v', new ivm.ExternalCopy(host).copyInto());
      assert.equal(context.evalSync('v.length + ":" + v.join("")'), '16:' + '3'.repeat(16));
      const copied = new ivm.ExternalCopy(new DataView(host.buffer)).copy();
      assert.equal(copied.byteLength, 16);
      assert.ok(new Uint8Array(copied.buffer).every((x) => x === 3));
    }
    console.log('ok');`,
  );
});

test('views left past the end of a shrunk buffer copy as empty, and grown buffers copy their new length', async () => {
  await inChild(
    'shrunk and grown buffers',
    `const b = new ArrayBuffer(64, { maxByteLength: 1024 });
    const views = [new Uint8Array(b), new Uint32Array(b, 8), new Uint8Array(b, 32, 16),
      new DataView(b), new DataView(b, 40), new Float64Array(b, 16)];
    new Uint8Array(b).fill(9);
    b.resize(24);
    for (const view of views) {
      let copy;
      try { copy = new ivm.ExternalCopy(view).copy(); } catch (error) { assert.ok(error instanceof Error); continue; }
      const name = view.constructor.name;
      const size = copy.buffer.byteLength;
      assert.ok(size <= 24, name + ' copied ' + size + ' bytes of a 24-byte buffer');
      assert.ok(new Uint8Array(copy.buffer).every((x) => x === 9), name + ' copied bytes it does not own');
    }
    b.resize(512);
    const grown = new ivm.ExternalCopy(new Uint8Array(b)).copy();
    assert.equal(grown.length, 512);
    assert.ok(grown.subarray(24).every((x) => x === 0));
    console.log('ok');`,
  );
});

test('every typed array kind and DataView keeps offset, length and bytes; a detached buffer is refused', async () => {
  await inChild(
    'view kinds',
    `const context = new ivm.Isolate().createContextSync();
    const kinds = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
      Float32Array, Float64Array, BigInt64Array, BigUint64Array];
    for (const Kind of kinds) {
      const view = new Kind(new ArrayBuffer(64), 8, 4);
      for (let i = 0; i < 4; i++) view[i] = Kind.name.startsWith('Big') ? BigInt(i + 1) : i + 1;
      context.global.setSync('x', new ivm.ExternalCopy(view).copyInto());
      const check = 'x instanceof ' + Kind.name + ' && x.byteOffset === 8 && x.length === 4' +
        ' && x.buffer.byteLength === 64';
      assert.equal(context.evalSync(check + ' && String(x[3])'), '4', Kind.name);
    }
    const detached = new ArrayBuffer(8);
    const view = new Uint8Array(detached);
    structuredClone(detached, { transfer: [detached] });
    assert.throws(() => new ivm.ExternalCopy(detached), /Array buffer is invalid/);
    assert.throws(() => new ivm.ExternalCopy(view), /Array buffer is invalid/);
    console.log('ok');`,
  );
});

test('SharedArrayBuffers and their views stay shared, growable ones too, and are charged to the isolate', async () => {
  await inChild(
    'shared memory',
    `const isolate = new ivm.Isolate();
    const context = isolate.createContextSync();
    const sab = new SharedArrayBuffer(1024 * 1024, { maxByteLength: 2 * 1024 * 1024 });
    context.global.setSync('v', new ivm.ExternalCopy(new Int32Array(sab, 8, 4)).copyInto());
    context.evalSync('v[0] = 42');
    assert.equal(new Int32Array(sab)[2], 42);
    assert.equal(isolate.getHeapStatisticsSync().externally_allocated_size, 1024 * 1024);
    sab.grow(2 * 1024 * 1024);
    context.global.setSync('w', new ivm.ExternalCopy(new Uint8Array(sab)).copyInto());
    assert.equal(context.evalSync('w.length'), 2 * 1024 * 1024);
    console.log('ok');`,
  );
});
