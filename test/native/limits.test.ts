// Hostile code: time limits, memory limits and disposal, each leaving the host serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ivm, isIslet, isletOnly, withContext } from './support';

const timedOut = /Script execution timed out\./;

test('timeout stops while(true), a catastrophic regexp and an endless microtask chain; the isolate stays usable', async () => {
  await withContext(async (_isolate, context) => {
    assert.throws(() => context.evalSync('while (true) {}', { timeout: 50 }), timedOut);
    assert.throws(() => context.evalSync('/(a+)+b/.test("a".repeat(40))', { timeout: 50 }), timedOut);
    assert.throws(
      () => context.evalSync('(function again() { Promise.resolve().then(again) })()', { timeout: 50 }),
      timedOut,
    );
    await assert.rejects(context.eval('for (;;) {}', { timeout: 50 }), timedOut);
    assert.throws(
      () => context.evalSync('try { for (;;) {} } finally { for (;;) {} }', { timeout: 50 }),
      timedOut,
      'finally cannot catch the termination',
    );
    assert.equal(context.evalSync('1 + 1'), 2);
    const spin = context.evalSync('(function spin() { for (;;) {} })', { reference: true }) as ivm.Reference;
    assert.throws(() => spin.applySync(undefined, [], { timeout: 50 }), timedOut);
    assert.equal(context.evalSync('2 + 2', { timeout: 50 }), 4);
  });
});

test('cpuTimeout measures CPU time; timeout and cpuTimeout are told apart by error.code', isletOnly, async () => {
  await withContext((_isolate, context) => {
    assert.throws(
      () => context.evalSync('for (;;) {}', { cpuTimeout: 40, timeout: 5000 } as never),
      (error: Error & { code?: string }) => timedOut.test(error.message) && error.code === 'ERR_ISOLATE_CPU_TIMEOUT',
    );
    assert.throws(
      () => context.evalSync('for (;;) {}', { timeout: 40, cpuTimeout: 5000 } as never),
      (error: Error & { code?: string }) => timedOut.test(error.message) && error.code === 'ERR_ISOLATE_TIMEOUT',
    );
    // Time spent outside the isolate's thread CPU (here: sleeping in a host call) is not charged.
    const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    context.global.setSync('sleep', sleep);
    assert.equal(context.evalSync('sleep(120); "slept"', { cpuTimeout: 60 } as never), 'slept');
  });
});

test('a cut run carries the isolate stack where it was stopped', isletOnly, async () => {
  await withContext((_isolate, context) => {
    const code = 'function handler() {\n  for (;;) {}\n}\nhandler();';
    assert.throws(
      () => context.evalSync(code, { filename: 'file:///tenant.js', cpuTimeout: 30 } as never),
      (error: Error & { isolateStack?: string }) => {
        assert.match(String(error.isolateStack), /^ {4}at handler \(file:\/\/\/tenant\.js:2:\d+\)/);
        return true;
      },
    );
  });
});

const overruns: [string, string][] = [
  ['object growth', 'const keep = []; for (;;) keep.push({ n: keep.length, s: "x" + keep.length })'],
  ['string doubling', 'let s = "ab"; const keep = []; for (;;) { s = [s, s].join(""); keep.push(s) }'],
  ['huge arrays', 'const keep = []; for (;;) keep.push(new Array(1e6).fill(1.5))'],
  ['ArrayBuffers', 'const keep = []; for (;;) keep.push(new ArrayBuffer(1024 * 1024))'],
];

for (const [name, code] of overruns) {
  test(`memory limit: ${name} ends the run, disposes the isolate, and another isolate keeps working`, async () => {
    const bystander = new ivm.Isolate({ memoryLimit: 16 });
    const bystanderContext = bystander.createContextSync();
    bystanderContext.evalSync('globalThis.data = [1, 2, 3]');
    const isolate = new ivm.Isolate({ memoryLimit: 16 });
    const context = isolate.createContextSync();
    assert.throws(
      () => context.evalSync(code),
      (error: Error) =>
        /Isolate was disposed during execution due to memory limit/.test(error.message) ||
        (error instanceof RangeError && /Array buffer allocation failed/.test(error.message)),
    );
    // The reference library keeps an isolate whose ArrayBuffer was refused; islet disposes it.
    if (isIslet || name !== 'ArrayBuffers') assert.equal(isolate.isDisposed, true);
    assert.equal(bystanderContext.evalSync('data.reduce((a, b) => a + b)'), 6);
    const fresh = new ivm.Isolate({ memoryLimit: 16 });
    assert.equal(fresh.createContextSync().evalSync('"still serving"'), 'still serving');
    fresh.dispose();
    bystander.dispose();
  });
}

test('a single ArrayBuffer over the limit is refused', async () => {
  const isolate = new ivm.Isolate({ memoryLimit: 16 });
  const context = isolate.createContextSync();
  assert.throws(
    () => context.evalSync('new ArrayBuffer(64 * 1024 * 1024).byteLength'),
    (error: Error) => error instanceof RangeError || /memory limit/.test(error.message),
  );
  if (!isolate.isDisposed) isolate.dispose();
});

test('memory errors carry ERR_ISOLATE_MEMORY_LIMIT and disposed isolates ERR_ISOLATE_DISPOSED', isletOnly, () => {
  const isolate = new ivm.Isolate({ memoryLimit: 16 });
  const context = isolate.createContextSync();
  assert.throws(() => context.evalSync('const k = []; for (;;) k.push({})'), { code: 'ERR_ISOLATE_MEMORY_LIMIT' });
  assert.throws(() => context.evalSync('1'), { code: 'ERR_ISOLATE_DISPOSED', message: 'Isolate is disposed' });
});

test('disposing an isolate while a script runs in it ends that run with a clear error', async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const running = context.eval('for (;;) {}');
  setTimeout(() => isolate.dispose(), 30);
  await assert.rejects(running, /Isolate was disposed during execution|Isolate is disposed/);
  assert.equal(isolate.isDisposed, true);
});

test('disposing from a host callback during a synchronous run ends that run', async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  context.global.setSync('quit', () => isolate.dispose());
  assert.throws(() => context.evalSync('quit(); for (;;) {}'), /disposed/);
  assert.equal(isolate.isDisposed, true);
});

test('memoryLimit below 8 MB is refused', () => {
  assert.throws(() => new ivm.Isolate({ memoryLimit: 4 }));
});

test('WebAssembly memory counts against the memory limit', isletOnly, () => {
  const grow =
    'const m = new WebAssembly.Memory({ initial: 1, maximum: 1024 }); for (let i = 1; i < 1024; i++) { m.grow(1); new Uint8Array(m.buffer)[i * 65536] = 1 }';
  for (const options of [{ timeout: 5000 }, {}]) {
    const isolate = new ivm.Isolate({ memoryLimit: 16 });
    const context = isolate.createContextSync();
    assert.throws(() => context.evalSync(grow, options), { code: 'ERR_ISOLATE_MEMORY_LIMIT' });
    assert.equal(isolate.isDisposed, true);
  }
  const modest = new ivm.Isolate({ memoryLimit: 16 });
  assert.equal(
    modest.createContextSync().evalSync('new WebAssembly.Memory({ initial: 10 }).buffer.byteLength'),
    655360,
  );
  modest.dispose();
});

test('allowAtomicsWait: false makes Atomics.wait throw, so no run can sleep outside its CPU budget', isletOnly, () => {
  const wait = 'Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10)';
  const strict = new ivm.Isolate({ memoryLimit: 16, allowAtomicsWait: false } as ivm.IsolateOptions);
  const usual = new ivm.Isolate({ memoryLimit: 16 });
  try {
    assert.throws(() => strict.createContextSync().evalSync(wait), TypeError);
    // the default stays as in the reference library
    assert.equal(usual.createContextSync().evalSync(wait), 'timed-out');
  } finally {
    strict.dispose();
    usual.dispose();
  }
});
