// Threading rules: async forms run off Node's thread, calls to one isolate keep their order,
// sync calls between two non-default isolates throw, recursion into the caller works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ivm, isletOnly, withContext } from './support';

test("an async call never blocks Node's event loop", async () => {
  await withContext(async (_isolate, context) => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    await context.eval('const t = Date.now(); while (Date.now() - t < 200) {}; 1');
    clearInterval(timer);
    assert.ok(ticks >= 5, `the loop ran ${ticks} timer ticks during a 200 ms async call`);
  });
});

test('calls queued to one isolate run in queue order, awaited or not', async () => {
  await withContext(async (_isolate, context) => {
    context.evalSync('globalThis.order = []');
    const done: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      if (i % 3 === 0) context.evalIgnored(`order.push(${i})`);
      else done.push(context.eval(`order.push(${i})`));
    }
    await Promise.all(done);
    assert.deepEqual(
      context.evalSync('order', { copy: true }),
      Array.from({ length: 20 }, (_, i) => i),
    );
  });
});

test('a sync call runs after the calls already queued to the isolate', isletOnly, async () => {
  await withContext(async (_isolate, context) => {
    context.evalSync('globalThis.order = []');
    const pending = context.eval('order.push("queued")');
    context.evalSync('order.push("sync")');
    await pending;
    assert.deepEqual(context.evalSync('order', { copy: true }), ['queued', 'sync']);
  });
});

test('a sync call from one non-default isolate into another throws instead of deadlocking', async () => {
  const a = new ivm.Isolate();
  const b = new ivm.Isolate();
  const contextA = a.createContextSync();
  const contextB = b.createContextSync();
  contextA.global.setSync('other', contextB);
  await assert.rejects(contextA.eval('other.evalSync("1")'), Error);
  contextA.global.setSync('otherGlobal', contextB.global);
  await assert.rejects(contextA.eval('otherGlobal.getSync("Math")'), Error);
  assert.equal(await contextA.eval('other.eval("40 + 2")', { promise: true }), 42, 'async forms are allowed anywhere');
  a.dispose();
  b.dispose();
});

test('recursion back into the calling isolate works', async () => {
  await withContext((_isolate, context) => {
    const global = context.global;
    global.setSync('host', (n: number): number => (n <= 0 ? 0 : n + (context.evalSync(`down(${n - 1})`) as number)));
    context.evalSync('globalThis.down = (n) => host(n)');
    assert.equal(context.evalSync('down(5)'), 15);
  });
});

test('parallel sum: four isolates compute slices at the same time', async () => {
  // Written only against the documented API (the classic example of the reference library).
  const slices = 4;
  const isolates = Array.from({ length: slices }, () => new ivm.Isolate({ memoryLimit: 32 }));
  const results = await Promise.all(
    isolates.map(async (isolate, i) => {
      const context = await isolate.createContext();
      const script = await isolate.compileScript(
        'function sum(from, to) { let s = 0; for (let i = from; i < to; i++) s += i % 7; return s; }',
      );
      await script.run(context);
      const sum = (await context.global.get('sum')) as ivm.Reference;
      const from = i * 2_000_000;
      return sum.apply(undefined, [from, from + 2_000_000], { result: { copy: true } }) as Promise<number>;
    }),
  );
  let expected = 0;
  for (let i = 0; i < slices * 2_000_000; i++) expected += i % 7;
  assert.equal(
    results.reduce((a, b) => a + b, 0),
    expected,
  );
  for (const isolate of isolates) isolate.dispose();
});

test("isolates calling Node synchronously from the pool do not starve Node's event loop", async () => {
  const isolates = Array.from({ length: 4 }, () => new ivm.Isolate({ memoryLimit: 16 }));
  let ticks = 0;
  const timer = setInterval(() => ticks++, 2);
  const runs = isolates.map((isolate) => {
    const context = isolate.createContextSync();
    context.global.setSync('host', (x: number) => x + 1);
    return context.eval('let s = 0; const end = Date.now() + 150; while (Date.now() < end) s = host(s); s');
  });
  const sums = (await Promise.all(runs)) as number[];
  clearInterval(timer);
  for (const sum of sums) assert.ok(sum > 0);
  assert.ok(ticks >= 5, `the loop ran ${ticks} timer ticks while 4 isolates called it`);
  for (const isolate of isolates) isolate.dispose();
});
