// Reference: handles to values in another isolate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ivm, isIslet, withContext } from './support';

test('typeof, deref, derefInto, copy and release', async () => {
  await withContext(async (_isolate, context) => {
    const values: [string, unknown][] = [
      ['null', null],
      ['undefined', undefined],
      ['number', 1],
      ['string', 's'],
      ['object', {}],
      ['function', () => 1],
      ['object', Symbol('s')],
      ['boolean', true],
    ];
    for (const [type, value] of values) assert.equal(new ivm.Reference(value).typeof, type);
    const local = { n: 1 };
    const reference = new ivm.Reference(local);
    assert.equal(reference.deref(), local);
    assert.throws(
      () => context.global.setSync('back', reference.derefInto()),
      'a Node value cannot be dereferenced inside another isolate',
    );
    const inside = context.evalSync('({ v: [1, 2] })', { reference: true }) as ivm.Reference;
    assert.throws(() => inside.deref(), 'deref only works in the owning isolate');
    assert.deepEqual(inside.copySync(), { v: [1, 2] });
    assert.deepEqual(await inside.copy(), { v: [1, 2] });
    context.global.setSync('mine', inside.derefInto());
    assert.equal(context.evalSync('mine.v[1]'), 2, 'derefInto becomes the value in its own isolate');
    inside.release();
    assert.throws(() => inside.copySync());
  });
});

test('get, set and delete in their sync, async and ignored forms', async () => {
  await withContext(async (_isolate, context) => {
    const object = context.evalSync('globalThis.o = { a: 1, nested: { b: 2 } }; o', {
      reference: true,
    }) as ivm.Reference;
    assert.equal(object.getSync('a'), 1);
    assert.equal(await object.get('a'), 1);
    const nested = object.getSync('nested') as ivm.Reference;
    assert.ok(nested instanceof ivm.Reference, 'objects come back as References by default');
    assert.deepEqual(object.getSync('nested', { copy: true }), { b: 2 });
    object.setSync('c', 3);
    await object.set('d', 4);
    object.setIgnored('e', 5);
    await object.get('a');
    assert.deepEqual(context.evalSync('[o.c, o.d, o.e]', { copy: true }), [3, 4, 5]);
    object.deleteSync('c');
    await object.delete('d');
    object.deleteIgnored('e');
    await object.get('a');
    assert.deepEqual(context.evalSync('Object.keys(o)', { copy: true }), ['a', 'nested']);
    object.setSync('fn', (x: number) => x + 1);
    assert.equal(context.evalSync('o.fn(1)'), 2, 'functions set on a reference become callable');
  });
});

test('get reads own properties only; getters and proxies throw unless accessors: true', async () => {
  await withContext((_isolate, context) => {
    const object = context.evalSync(
      'globalThis.hits = 0; ({ __proto__: { inherited: 1 }, own: 2, get computed() { hits++; return 3 } })',
      { reference: true },
    ) as ivm.Reference;
    assert.equal(object.getSync('own'), 2);
    assert.equal(object.getSync('inherited'), undefined);
    assert.throws(() => object.getSync('computed'));
    assert.equal(context.evalSync('hits'), 0, 'the getter did not run');
    assert.equal(object.getSync('computed', { accessors: true } as never), 3);
    const proxy = context.evalSync('new Proxy({}, { get: () => 9 })', { reference: true }) as ivm.Reference;
    assert.throws(() => proxy.getSync('x'));
    const inherit = new ivm.Reference(Object.create({ up: 'proto' }), { unsafeInherit: true });
    assert.equal(inherit.getSync('up'), 'proto');
  });
});

test('apply, applySync and applyIgnored with arguments and result options and a timeout', async () => {
  await withContext(async (_isolate, context) => {
    const add = context.evalSync('(a, b) => a + b', { reference: true }) as ivm.Reference;
    assert.equal(add.applySync(undefined, [1, 2]), 3);
    assert.equal(await add.apply(undefined, [3, 4]), 7);
    const make = context.evalSync('(n) => ({ n, list: [n] })', { reference: true }) as ivm.Reference;
    assert.deepEqual(make.applySync(undefined, [5], { result: { copy: true } }), { n: 5, list: [5] });
    const record = context.evalSync('globalThis.seen = []; (x) => seen.push(x)', { reference: true }) as ivm.Reference;
    record.applyIgnored(undefined, ['ignored']);
    await context.eval('0');
    assert.deepEqual(context.evalSync('seen', { copy: true }), ['ignored']);
    const receiver = context.evalSync('({ k: 10, get() { return this.k } })', { reference: true }) as ivm.Reference;
    const method = receiver.getSync('get', { reference: true }) as ivm.Reference;
    assert.equal(typeof receiver.getSync('get'), 'function', 'functions come back callable by default');
    assert.equal(method.applySync(receiver.derefInto()), 10);
    const spin = context.evalSync('() => { for (;;) {} }', { reference: true }) as ivm.Reference;
    await assert.rejects(spin.apply(undefined, [], { timeout: 40 }), /Script execution timed out\./);
    const thrower = context.evalSync('() => { throw new URIError("bad uri") }', { reference: true }) as ivm.Reference;
    assert.throws(() => thrower.applySync(), isIslet ? URIError : Error);
  });
});

test("applySyncPromise: an isolate waits synchronously for a Promise of Node's isolate", async () => {
  await withContext(async (_isolate, context) => {
    const readLater = new ivm.Reference(async (name: string) => {
      await new Promise((resolve) => setTimeout(resolve, 10));
      return `contents of ${name}`;
    });
    context.global.setSync('read', readLater);
    const result = await context.eval('read.applySyncPromise(undefined, ["a.txt"])');
    assert.equal(result, 'contents of a.txt');
    assert.throws(() => context.evalSync('read.applySyncPromise(undefined, ["b"])'), 'not from the default thread');
  });
});

test('a million References created and released do not grow the process', { timeout: 60_000 }, async () => {
  await withContext((isolate, context) => {
    const base = isolate.referenceCount;
    const make = context.evalSync('() => ({})', { reference: true }) as ivm.Reference;
    const round = (count: number) => {
      for (let i = 0; i < count; i++) (make.applySync() as ivm.Reference).release();
    };
    round(100_000);
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    for (let i = 0; i < 9; i++) round(100_000);
    global.gc?.();
    const growth = process.memoryUsage().rss - rssBefore;
    assert.ok(growth < 64 * 1024 * 1024, `the process grew by ${(growth / 1048576).toFixed(1)} MB`);
    if (isIslet) assert.equal(isolate.referenceCount, base + 1);
  });
});
