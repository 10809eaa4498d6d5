// ExternalCopy and TransferOptions: how values move between isolates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ivm, isIslet, withContext } from './support';

test('ExternalCopy copies primitives, Date, ArrayBuffer, typed arrays, DataView and plain objects', async () => {
  await withContext((_isolate, context) => {
    const values: unknown[] = [
      42,
      'text',
      'ünïcødé ✓',
      true,
      null,
      undefined,
      12345678901234567890n,
      new Date(1700000000000),
      { a: [1, { b: 'c' }], m: new Map([[1, 2]]) },
    ];
    for (const value of values) assert.deepEqual(new ivm.ExternalCopy(value).copy(), value);
    const bytes = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const view = new ivm.ExternalCopy(bytes.subarray(2, 6)).copy() as Uint8Array;
    assert.ok(view instanceof Uint8Array);
    assert.deepEqual([...view], [3, 4, 5, 6]);
    assert.equal(view.buffer.byteLength, 8, 'a view is copied with its whole buffer, as structured clone does');
    assert.equal(view.byteOffset, 2);
    const floats = new ivm.ExternalCopy(new Float64Array([1.5, -2])).copy() as Float64Array;
    assert.deepEqual([...floats], [1.5, -2]);
    const dv = new ivm.ExternalCopy(new DataView(bytes.buffer, 1, 2)).copy() as DataView;
    assert.ok(dv instanceof DataView);
    assert.equal(dv.getUint8(1), 3);
    context.global.setSync(
      'copy',
      new ivm.ExternalCopy({ when: new Date(0), bytes: new Uint16Array([7, 8]) }).copyInto(),
    );
    assert.equal(
      context.evalSync('copy.when instanceof Date && copy.bytes instanceof Uint16Array && copy.bytes[1]'),
      8,
    );
    assert.throws(() => new ivm.ExternalCopy(() => 1));
    assert.throws(() => new ivm.ExternalCopy(Symbol('s')));
  });
});

test('errors keep their class and message through a copy', () => {
  const copy = new ivm.ExternalCopy(new RangeError('out of range')).copy() as Error;
  assert.ok(copy instanceof RangeError);
  assert.equal(copy.message, 'out of range');
});

test('transferring a 64 MB ArrayBuffer moves it instead of copying it', async () => {
  await withContext((_isolate, context) => {
    const buffer = new ArrayBuffer(64 * 1024 * 1024);
    new Uint8Array(buffer)[123] = 45;
    const before = ivm.ExternalCopy.totalExternalSize;
    const copy = new ivm.ExternalCopy(buffer, { transferOut: true });
    assert.equal(buffer.byteLength, 0, 'the source is detached: ownership moved');
    if (isIslet) assert.equal(ivm.ExternalCopy.totalExternalSize - before, 64 * 1024 * 1024);
    context.global.setSync('big', copy.copyInto({ transferIn: true }));
    assert.equal(context.evalSync('big.byteLength'), 64 * 1024 * 1024);
    assert.equal(context.evalSync('new Uint8Array(big)[123]'), 45);
    copy.release();
    const list = new ArrayBuffer(1024);
    const moved = new ivm.ExternalCopy({ list }, { transferList: [list] });
    assert.equal(list.byteLength, 0);
    assert.equal((moved.copy() as { list: ArrayBuffer }).list.byteLength, 1024);
  }, 128);
});

test('SharedArrayBuffer memory is shared across isolates and outlives its creator', async () => {
  const shared = new SharedArrayBuffer(16);
  const a = new ivm.Isolate();
  const contextA = a.createContextSync();
  contextA.global.setSync('shared', new ivm.ExternalCopy(shared).copyInto());
  contextA.evalSync('new Int32Array(shared)[0] = 1234');
  assert.equal(new Int32Array(shared)[0], 1234);
  const made = contextA.evalSync('globalThis.mine = new SharedArrayBuffer(8); new Int32Array(mine)[1] = 77; mine', {
    externalCopy: true,
  }) as ivm.ExternalCopy;
  a.dispose();
  const b = new ivm.Isolate();
  const contextB = b.createContextSync();
  contextB.global.setSync('mine', made.copyInto());
  assert.equal(contextB.evalSync('new Int32Array(mine)[1]'), 77);
  b.dispose();
});

test('ExternalCopy release and totalExternalSize', () => {
  const before = ivm.ExternalCopy.totalExternalSize;
  const copy = new ivm.ExternalCopy(new ArrayBuffer(1000));
  if (isIslet) assert.equal(ivm.ExternalCopy.totalExternalSize - before, 1000);
  assert.equal((copy.copy({ release: true }) as ArrayBuffer).byteLength, 1000);
  assert.throws(() => copy.copy());
});

test('TransferOptions: copy, externalCopy, reference', async () => {
  await withContext((_isolate, context) => {
    assert.deepEqual(context.evalSync('({ x: [1, 2] })', { copy: true }), { x: [1, 2] });
    const external = context.evalSync('({ y: 1 })', { externalCopy: true }) as ivm.ExternalCopy;
    assert.ok(external instanceof ivm.ExternalCopy);
    assert.deepEqual(external.copy(), { y: 1 });
    const reference = context.evalSync('({ z: 2 })', { reference: true }) as ivm.Reference;
    assert.ok(reference instanceof ivm.Reference);
    assert.equal(reference.getSync('z'), 2);
  });
});

test('a Promise crosses isolates with `promise: true`, and a rejection keeps its message', async () => {
  await withContext(async (_isolate, context) => {
    assert.equal(await context.evalSync('Promise.resolve(5)', { promise: true }), 5);
    await assert.rejects(
      context.evalSync('Promise.reject(new TypeError("nope"))', { promise: true }) as Promise<unknown>,
      (error: Error) => error instanceof TypeError && error.message === 'nope',
    );
    const later = context.evalSync('new Promise((resolve) => { globalThis.finish = resolve })', {
      promise: true,
    }) as Promise<unknown>;
    context.evalSync('finish("done")');
    assert.equal(await later, 'done');
    const fn = context.evalSync(
      '(async (x) => { await null; if (x < 0) throw new Error("negative " + x); return x * 2 })',
      { reference: true },
    ) as ivm.Reference;
    assert.equal(await fn.apply(undefined, [21], { result: { promise: true } }), 42);
    await assert.rejects(fn.apply(undefined, [-1], { result: { promise: true } }), /negative -1/);
  });
});

test('TransferOptions for arguments: reference and externalCopy', async () => {
  await withContext((_isolate, context) => {
    const inspect = context.evalSync('(r, e) => [r.typeof, r.getSync("n"), e.copySync().list.length].join()', {
      reference: true,
    }) as ivm.Reference;
    const arg = { n: 5, list: [1, 2, 3] };
    assert.equal(inspect.applySync(undefined, [arg, arg], { arguments: { reference: true } }).split(',')[0], 'object');
    const both = context.evalSync('(r, e) => r.getSync("n") + e.copy().list.length', {
      reference: true,
    }) as ivm.Reference;
    assert.equal(both.applySync(undefined, [new ivm.Reference(arg), new ivm.ExternalCopy(arg)]), 8);
    const external = context.evalSync('(e) => e.copy().list[2]', { reference: true }) as ivm.Reference;
    assert.equal(external.applySync(undefined, [arg], { arguments: { externalCopy: true } }), 3);
  });
});

test('non-transferable arguments are refused with a TypeError', async () => {
  await withContext((_isolate, context) => {
    const fn = context.evalSync('(x) => typeof x', { reference: true }) as ivm.Reference;
    assert.throws(() => fn.applySync(undefined, [{ plain: 'object' }]), TypeError);
    assert.equal(fn.applySync(undefined, [{ plain: 'object' }], { arguments: { copy: true } }), 'object');
  });
});
