// The memory limit and the code-generation limit (issue 14, item 7): the near-heap-limit
// callback collects first and grants one small margin, an isolate holding only garbage survives
// a large allocation, a run past the limit is stopped without taking the host down, and eval of
// a huge string is refused at once instead of parsing past the timeout. Each case runs in a
// child process: V8's fatal out-of-memory handler aborts the whole process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inChild } from './child';

test('an isolate near its limit holding only garbage survives an 8 MB allocation, again and again', async () => {
  await inChild(
    'garbage then allocation',
    `const context = new ivm.Isolate({ memoryLimit: 16 }).createContextSync();
    for (let n = 0; n < 6; n++) {
      context.evalSync('var garbage = []; for (let k = 0; k < 1e5; k++) garbage.push({ k, s: "x" + k });');
      context.evalSync('garbage = null');
      assert.equal(context.evalSync('new Array(1e6).fill(1.5).length'), 1e6);
    }
    console.log('ok');`,
  );
});

test('a run past the memory limit fails, disposes only that isolate, and leaves the heap bounded', async () => {
  await inChild(
    'memory overruns',
    `const neighbour = new ivm.Isolate({ memoryLimit: 16 }).createContextSync();
    for (const code of [
      'const keep = []; for (;;) keep.push({ n: keep.length })',
      'const keep = []; for (;;) keep.push(new Array(1e5).fill(1.5))',
      'const keep = []; for (;;) keep.push(new ArrayBuffer(1 << 20))',
      'const k = []; let s = "ab"; for (;;) { s = [s, s].join(""); k.push(s) }',
    ]) {
      const isolate = new ivm.Isolate({ memoryLimit: 16 });
      const stopped = /memory limit|Invalid string length|Array buffer allocation failed/;
      assert.throws(() => isolate.createContextSync().evalSync(code), stopped);
      if (!isolate.isDisposed) isolate.dispose();
      assert.equal(neighbour.evalSync('6 * 7'), 42);
    }
    assert.ok(process.memoryUsage().rss < 1024 * 1024 * 1024);
    console.log('ok');`,
    { timeoutMs: 60_000 },
  );
});

test('new Array(1e8).fill(0) in a 16 MB isolate on the pool: the isolate is lost, Node is not', async () => {
  // V8 cannot stop this builtin and cannot continue it: on Node's own thread (evalSync) its
  // out-of-memory handler aborts the process, as the reference library does; on a pool thread the
  // thread is given up and everything that waited on that isolate fails.
  await inChild(
    'fill on the pool',
    `(async () => {
      const isolate = new ivm.Isolate({ memoryLimit: 16, onCatastrophicError: (message) => { caught = message } });
      let caught = '';
      const context = isolate.createContextSync();
      await assert.rejects(context.eval('new Array(1e8).fill(0); 1'), (e) => e.code === 'ERR_ISOLATE_MEMORY_LIMIT');
      assert.ok(isolate.isDisposed);
      assert.throws(() => context.evalSync('1'), /disposed/);
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.match(caught, /out of memory/);
      const others = Array.from({ length: 6 }, () => new ivm.Isolate().createContextSync().eval('6 * 7'));
      assert.deepEqual(await Promise.all(others), Array(6).fill(42));
      console.log('ok');
    })();`,
    { timeoutMs: 60_000 },
  );
});

test('eval of a 400 MB string is refused at once, by the memory limit and by the time left in the run', async () => {
  const result = await inChild(
    'huge eval',
    `const context = new ivm.Isolate().createContextSync();
    let started = Date.now();
    assert.throws(() => context.evalSync('eval("1".repeat(40).repeat(1e7))', { timeout: 5000 }), EvalError);
    assert.ok(Date.now() - started < 4000, 'refused after ' + (Date.now() - started) + ' ms');
    assert.equal(context.evalSync('eval("1 + 1")'), 2);
    assert.throws(() => context.evalSync('new Function("return " + "1".repeat(2e7))'), EvalError);
    const roomy = new ivm.Isolate({ memoryLimit: 1024 }).createContextSync();
    started = Date.now();
    assert.throws(() => roomy.evalSync('eval("1+".repeat(2e7) + "1")', { timeout: 100 }), EvalError);
    assert.ok(Date.now() - started < 3000, 'refused after ' + (Date.now() - started) + ' ms');
    console.log('ok');`,
    { timeoutMs: 60_000 },
  );
  assert.ok(result.ms < 30_000);
});

test('strings copied into an isolate are charged to it: counted, collected, and refused past the limit', async () => {
  await inChild(
    'external strings',
    `const isolate = new ivm.Isolate({ memoryLimit: 32 });
    const context = isolate.createContextSync();
    const kb = new ivm.ExternalCopy('x'.repeat(1024));
    const wide = new ivm.ExternalCopy('\\uffff'.repeat(1024));
    assert.ok(ivm.ExternalCopy.totalExternalSize >= 1024 + 2048);
    context.global.setSync('a', kb.copyInto());
    assert.ok(isolate.getHeapStatisticsSync().externally_allocated_size >= 1024);
    context.global.setSync('a', null);
    context.evalSync('for (let k = 0; k < 10; k++) new Array(1e5).fill({})');
    const fill = () => { for (let k = 0; k < 32 * 1024; k++) context.global.setSync(k, wide.copyInto()); };
    assert.throws(fill, /memory limit|past its memory limit/);
    console.log('ok');`,
    { nodeArgs: ['--expose-gc'] },
  );
});

test('buffers moved or copied in again and again are charged while alive and released when collected', async () => {
  await inChild(
    'repeated transfers',
    `const isolate = new ivm.Isolate({ memoryLimit: 16 });
    const context = isolate.createContextSync();
    for (let k = 0; k < 100; k++) {
      const moved = new ivm.ExternalCopy(new ArrayBuffer(1 << 20), { transferOut: true });
      context.global.setSync('buffer', moved.copyInto({ transferIn: true }));
      context.global.setSync('copied', new ivm.ExternalCopy(new Uint8Array(1 << 20)).copyInto());
    }
    assert.equal(isolate.isDisposed, false);
    assert.ok(isolate.getHeapStatisticsSync().externally_allocated_size <= 16 * 1024 * 1024);
    console.log('ok');`,
  );
});
