// Isolate, Context and Script: the core of the isolate API (issue 2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ivm, isIslet, withContext } from './support';

test('evalSync, eval and evalIgnored run code and return transferable completion values', async () => {
  await withContext(async (_isolate, context) => {
    assert.equal(context.evalSync('1 + 1'), 2);
    assert.equal(await context.eval('"a" + "b"'), 'ab');
    assert.equal(context.evalSync('({})'), undefined, 'a non-transferable result comes back as undefined');
    assert.equal(context.evalIgnored('globalThis.x = 5'), undefined);
    assert.equal(await context.eval('x'), 5, 'ignored calls run in queue order before later calls');
  });
});

test('evalClosure passes $0..$n and allows return; functions passed in become callable', async () => {
  await withContext(async (_isolate, context) => {
    assert.equal(context.evalClosureSync('return $0 + $1', [2, 3]), 5);
    assert.equal(await context.evalClosure('return $0.toUpperCase()', ['x']), 'X');
    const seen: number[] = [];
    context.evalClosureSync('$0(1); $0(2)', [new ivm.Callback((n: number) => seen.push(n))]);
    if (isIslet) context.evalClosureSync('$0(3)', [(n: number) => seen.push(n)]);
    assert.deepEqual(seen, isIslet ? [1, 2, 3] : [1, 2]);
    assert.deepEqual(context.evalClosureSync('return {a: [1, 2]}', [], { result: { copy: true } }), { a: [1, 2] });
    context.evalClosureIgnored('globalThis.y = $0', [7]);
    await context.evalClosure('return 0');
    assert.equal(context.evalSync('y'), 7);
  });
});

test('context.global is a Reference to the global object', async () => {
  await withContext((_isolate, context) => {
    const global = context.global;
    assert.ok(global instanceof ivm.Reference);
    assert.equal(global.typeof, 'object');
    global.setSync('answer', 42);
    assert.equal(context.evalSync('answer'), 42);
    assert.equal(global.getSync('answer'), 42);
    assert.equal(context.global, global, 'the same Reference each time');
    context.release();
    assert.throws(() => global.getSync('answer'), 'released with the context');
  });
});

test('errors keep their class, message and a stack with filename, line and column', async () => {
  await withContext(async (isolate, context) => {
    // The reference library rebuilds EvalError and URIError as plain Errors; islet keeps them.
    const classes = [
      'Error',
      'TypeError',
      'RangeError',
      'SyntaxError',
      'ReferenceError',
      ...(isIslet ? (['EvalError', 'URIError'] as const) : []),
    ];
    for (const name of classes) {
      assert.throws(
        () => context.evalSync(`\n\n  throw new ${name}('boom ${name}')`, { filename: 'file:///app.js' }),
        (error: Error) => {
          assert.equal(error.constructor.name, name);
          assert.equal(error.message, `boom ${name}`);
          assert.match(String(error.stack), /file:\/\/\/app\.js:3:9/);
          return true;
        },
      );
    }
    await assert.rejects(
      context.eval('null.x', { filename: 'file:///t.js' }),
      (error: Error) => error instanceof TypeError && /file:\/\/\/t\.js:1/.test(String(error.stack)),
    );
    assert.throws(() => context.evalSync('let = ;', { filename: 'file:///bad.js' }), SyntaxError);
    const script = isolate.compileScriptSync('function f() {\n  throw new RangeError("deep");\n}\nf()', {
      filename: 'file:///s.js',
      lineOffset: 10,
    });
    assert.throws(
      () => script.runSync(context),
      (error: Error) => error instanceof RangeError && /file:\/\/\/s\.js:12:9/.test(String(error.stack)),
    );
  });
});

test('compileScript and Script.run/runSync/runIgnored with release', async () => {
  await withContext(async (isolate, context) => {
    const script = await isolate.compileScript('globalThis.n = (globalThis.n || 0) + 1');
    assert.equal(script.runSync(context), 1);
    assert.equal(await script.run(context), 2);
    script.runIgnored(context);
    assert.equal(context.evalSync('n'), 3);
    const once = isolate.compileScriptSync('n');
    assert.equal(once.runSync(context, { release: true }), 3);
    assert.throws(() => once.runSync(context));
    const other = isolate.createContextSync();
    assert.equal(isolate.compileScriptSync('typeof n').runSync(other), 'undefined', 'contexts have separate globals');
  });
});

test('cached data: produced, consumed, and rejected when the source changes', async () => {
  await withContext((isolate, context) => {
    const code =
      Array.from({ length: 300 }, (_, i) => `function f${i}(a) { return a + ${i}; }`).join('\n') + '\nf299(1)';
    const first = isolate.compileScriptSync(code, { produceCachedData: true });
    assert.ok(first.cachedData instanceof ivm.ExternalCopy);
    const bytes = first.cachedData!.copy() as ArrayBuffer;
    assert.ok(bytes.byteLength > 0);
    const second = isolate.compileScriptSync(code, { cachedData: first.cachedData });
    assert.equal(second.cachedDataRejected, false);
    assert.equal(second.runSync(context), 300);
    const changed = isolate.compileScriptSync(code + ';', { cachedData: first.cachedData, produceCachedData: true });
    assert.equal(changed.cachedDataRejected, true);
    assert.ok(
      changed.cachedData instanceof ivm.ExternalCopy,
      'new data is produced when the supplied data was rejected',
    );
    const garbage = new ivm.ExternalCopy(new Uint8Array(64).buffer);
    assert.equal(
      isolate.compileScriptSync('1', { cachedData: garbage as ivm.ExternalCopy<ArrayBuffer> }).cachedDataRejected,
      true,
    );
  });
});

test('cpuTime and wallTime grow as bigint nanoseconds while code runs', async () => {
  await withContext((isolate, context) => {
    const cpu0 = isolate.cpuTime;
    const wall0 = isolate.wallTime;
    assert.equal(typeof cpu0, 'bigint');
    assert.equal(typeof wall0, 'bigint');
    context.evalSync('let s = 0; for (let i = 0; i < 2e7; i++) s += i % 3; s');
    const cpu = isolate.cpuTime - cpu0;
    const wall = isolate.wallTime - wall0;
    assert.ok(cpu > 1_000_000n, `cpuTime grew by ${cpu} ns`);
    // One thread cannot use more CPU than the wall time that passed while it ran.
    assert.ok(wall + 1_000_000n >= cpu, `wallTime grew by ${wall} ns, cpuTime by ${cpu} ns`);
  });
});

test('getHeapStatistics reports the heap and externally allocated ArrayBuffers', async () => {
  await withContext(async (isolate, context) => {
    const before = isolate.getHeapStatisticsSync();
    assert.ok(before.used_heap_size > 0);
    assert.ok(before.heap_size_limit > 0);
    context.evalSync('globalThis.keep = new ArrayBuffer(4 * 1024 * 1024)');
    const after = await isolate.getHeapStatistics();
    assert.ok(after.externally_allocated_size - before.externally_allocated_size >= 4 * 1024 * 1024);
  });
});

test('dispose, isDisposed and use after dispose', () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  assert.equal(isolate.isDisposed, false);
  isolate.dispose();
  assert.equal(isolate.isDisposed, true);
  assert.throws(() => context.evalSync('1'), /disposed/);
  assert.throws(() => isolate.createContextSync(), /disposed/);
  assert.throws(() => isolate.dispose());
});

test('referenceCount counts live handles into the isolate', async () => {
  await withContext((isolate, context) => {
    const base = isolate.referenceCount;
    const refs = Array.from({ length: 10 }, () => context.evalSync('({})', { reference: true }) as ivm.Reference);
    assert.ok(isolate.referenceCount >= base + 10);
    for (const ref of refs) ref.release();
    if (isIslet) assert.equal(isolate.referenceCount, base, 'released References are no longer counted');
  });
});

test('the addon was built for this Node', { skip: isIslet ? false : 'islet only' }, () => {
  assert.equal((ivm as unknown as { nodeModuleVersion: number }).nodeModuleVersion, Number(process.versions.modules));
});

test('loading without --no-node-snapshot emits one process warning', { skip: isIslet ? false : 'islet only' }, () => {
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const path = require('node:path') as typeof import('node:path');
  const entry = path.resolve(__dirname, '../../native');
  const script = `require(${JSON.stringify(entry)}); require(${JSON.stringify(entry)});`;
  const env = { ...process.env, NODE_OPTIONS: '' };
  const without = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8' });
  assert.equal(without.status, 0, without.stderr);
  assert.equal(without.stderr.match(/--no-node-snapshot/g)?.length, 1, without.stderr);
  const withFlag = spawnSync(process.execPath, ['--no-node-snapshot', '-e', script], { env, encoding: 'utf8' });
  assert.doesNotMatch(withFlag.stderr, /no-node-snapshot/);
});
