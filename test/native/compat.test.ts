// Behaviours of the reference isolate API that programs written for it rely on (issue 14,
// items 8 and 9): each is checked against islet's addon and, through
// scripts/reference-isolate.js, against the reference library itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ivm, isIslet, withContext } from './support';

test('promise jobs that reject with nobody handling them make the run fail', async () => {
  await withContext(async (isolate, context) => {
    const late = isolate.compileScriptSync('Promise.resolve().then(() => { throw new Error("late") })');
    assert.throws(() => late.runSync(context), /late/);
    await assert.rejects(context.eval('Promise.reject(new Error("async late")); 1'), /async late/);
    assert.equal(context.evalSync('Promise.reject(new Error("handled")).catch(() => {}); 2'), 2);
    try {
      context.evalSync('function innerFunction() { throw new Error("x") }\nPromise.resolve().then(innerFunction)');
      assert.fail('did not throw');
    } catch (error) {
      assert.match((error as Error).stack!, /innerFunction/);
    }
  });
});

test('References read through an unsafeInherit Reference inherit too; proxies and accessors are refused', async () => {
  const base = { foo: 1 };
  const middle = Object.assign(Object.create(base), { bar: 2 });
  const top = Object.assign(Object.create(middle), { etc: middle });
  const plain = new ivm.Reference(top);
  assert.equal(plain.getSync('bar'), undefined);
  assert.equal((plain.getSync('etc') as ivm.Reference).getSync('foo'), undefined);
  const inheriting = new ivm.Reference(top, { unsafeInherit: true });
  assert.equal(inheriting.getSync('bar'), 2);
  assert.equal((inheriting.getSync('etc') as ivm.Reference).getSync('foo'), 1);
  let trapped = false;
  const proxy = new Proxy(
    { prop: 1 },
    { get: () => (trapped = true), getOwnPropertyDescriptor: () => ((trapped = true), undefined) },
  );
  assert.throws(() => new ivm.Reference(proxy).getSync('prop'));
  assert.throws(() => new ivm.Reference(Object.create(proxy)).getSync('prop'));
  const accessor = {
    get value() {
      trapped = true;
      return 1;
    },
  };
  assert.throws(() => new ivm.Reference(accessor).getSync('value'));
  assert.equal(trapped, false);
});

test('derefInto() and copyInto() results are usable once', async () => {
  const fn = new ivm.Reference((a: unknown, b: unknown) => [a, b]);
  const target = {};
  const once = new ivm.Reference(target).derefInto();
  const copy = new ivm.ExternalCopy('text').copyInto();
  fn.applySync(undefined, [once, copy]);
  assert.throws(() => fn.applySync(undefined, [once]), /only be used once/);
  assert.throws(() => fn.applySync(undefined, [copy]), /only be used once/);
});

test('an ExternalCopy whose buffer was transferred in cannot be copied again', () => {
  const view = new Uint8Array([1, 2, 3, 4]);
  const copy = new ivm.ExternalCopy({ buffer: view.buffer, view }, { transferList: [view.buffer] });
  const first = copy.copy() as { buffer: ArrayBuffer; view: Uint8Array };
  assert.equal(first.view.buffer, first.buffer);
  copy.copy({ transferIn: true });
  assert.throws(() => copy.copy(), /Array buffer is invalid/);
});

test('ExternalCopy.totalExternalSize and externally_allocated_size count strings and SharedArrayBuffers', async () => {
  await withContext((isolate, context) => {
    const before = ivm.ExternalCopy.totalExternalSize;
    const text = new ivm.ExternalCopy('y'.repeat(4096));
    assert.ok(ivm.ExternalCopy.totalExternalSize - before >= 4096);
    const sab = new SharedArrayBuffer(1 << 20);
    context.global.setSync('shared', new ivm.ExternalCopy(sab).copyInto());
    context.global.setSync('text', text.copyInto());
    assert.ok(isolate.getHeapStatisticsSync().externally_allocated_size >= (1 << 20) + 4096);
  });
});

test('wallTime counts a re-entry through a host callback once; cpuTime grows while an async run goes', async () => {
  await withContext(async (isolate, context) => {
    context.evalSync('function spin(ms) { const end = Date.now() + ms; while (Date.now() < end); }');
    context.global.setSync('reenter', () => context.evalSync('spin(60)'));
    const wall0 = isolate.wallTime;
    context.evalSync('spin(60); reenter()');
    const wall = Number(isolate.wallTime - wall0) / 1e6;
    assert.ok(wall >= 115 && wall < 200, `wall ${wall} ms for 120 ms spent inside`);
    const cpu0 = isolate.cpuTime;
    const run = context.eval('spin(300)');
    let moved = false;
    const end = Date.now() + 280;
    while (Date.now() < end && !moved) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      moved = isolate.cpuTime !== cpu0;
    }
    await run;
    assert.ok(moved, 'cpuTime moved while the run was going');
  });
});

test('the module object, its classes and their prototypes are immutable, here and inside isolates', async () => {
  await withContext((_isolate, context) => {
    const lib = ivm as unknown as Record<string, unknown>;
    assert.throws(() => {
      lib.ExternalCopy = () => {};
    }, TypeError);
    assert.throws(() => Object.defineProperty(ivm.ExternalCopy.prototype, 'copy', { value: 1 }), TypeError);
    assert.throws(() => Object.setPrototypeOf(new ivm.ExternalCopy(1), {}), TypeError);
    assert.equal(new ivm.ExternalCopy(1).copy(), 1);
    const code = '$0.__proto__.copy = 1; $1.ExternalCopy = () => {}; return $0.copy() + new $1.ExternalCopy(1).copy()';
    const result = context.evalClosureSync(code, [new ivm.ExternalCopy(1), ivm]);
    assert.equal(result, 2);
  });
});

test('the module object crosses into an isolate, whose code then creates isolates, copies and references', async () => {
  await withContext(async (_isolate, context) => {
    context.global.setSync('ivm', ivm);
    const nested =
      'const inner = new ivm.Isolate({ memoryLimit: 16 }); const v = inner.createContextSync().evalSync("6 * 7")';
    assert.equal(context.evalSync(nested + '; inner.dispose(); v'), 42);
    assert.equal(context.evalSync('new ivm.ExternalCopy({ a: [1, 2] }).copy().a[1]'), 2);
    assert.equal(context.evalSync('new ivm.Reference({}) instanceof ivm.Reference'), true);
    const made = context.evalSync('new ivm.Reference([1, 2, 3])') as ivm.Reference;
    assert.ok(made instanceof ivm.Reference);
    assert.equal(made.getSync('length'), 3);
  });
});

test("errors: the isolate's frames lead err.stack, a thrown non-Error is named, primitives become text", async () => {
  await withContext(async (isolate, context) => {
    try {
      context.evalSync('function inside_isolate() { throw new Error("x") }\ninside_isolate()');
      assert.fail('did not throw');
    } catch (error) {
      const stack = (error as Error).stack!;
      const inside = stack.indexOf('inside_isolate');
      assert.ok(inside >= 0 && inside < stack.indexOf('compat.test'), stack);
      assert.ok(
        stack
          .split('\n')
          .slice(1)
          .every((line) => line.startsWith('    at ')),
        stack,
      );
    }
    const spin = context.evalSync('(function the_stack() { for (;;); })', { reference: true }) as ivm.Reference;
    const stopped = (error: Error) => /the_stack/.test(error.stack!);
    assert.throws(() => spin.applySync(undefined, [], { timeout: 20 }), stopped);
    const fromHere = (error: Error) => stopped(error) && /compat\.test/.test(error.stack!);
    await assert.rejects(spin.apply(undefined, [], { timeout: 20 }), fromHere);
    assert.throws(() => context.evalSync('throw {}'), /not an instance of `Error`/);
    const numbered = (error: Error) => error.message === '1234';
    assert.throws(() => context.evalSync('const e = new Error(); e.message = 1234; throw e'), numbered);
    assert.equal(isolate.isDisposed, false);
  });
});

test('async forms reject instead of throwing; evaluate() before instantiate() rejects', async () => {
  const isolate = new ivm.Isolate();
  const context = isolate.createContextSync();
  const module = isolate.compileModuleSync('export default 1');
  await assert.rejects(module.evaluate(), /instantiated/);
  const released = context.evalSync('({})', { reference: true }) as ivm.Reference;
  released.release();
  await assert.rejects(released.get('x'), /released/);
  isolate.dispose();
  await assert.rejects(isolate.createContext(), /disposed/);
  await assert.rejects(context.eval('1'), /disposed/);
});

test('module linking: resolver errors, wrong results and links that are remembered', async () => {
  await withContext(async (isolate, context) => {
    const modules: Record<string, ivm.Module> = {
      a: isolate.compileModuleSync('import * as b from "b"; export const a = 1'),
      b: isolate.compileModuleSync('import * as a from "a"; import * as c from "c"; export const b = 2'),
      c: isolate.compileModuleSync('export const c = 3'),
    };
    const missing = (s: string) => (s === 'c' ? (undefined as never) : modules[s]);
    assert.throws(() => modules.a.instantiateSync(context, missing), /dependency was not/);
    const throwing = (s: string) => {
      if (s === 'c') throw new Error('hello');
      return modules[s];
    };
    assert.throws(() => modules.a.instantiateSync(context, throwing), /hello/);
    const rejecting = (s: string) =>
      s === 'c' ? Promise.reject(new Error('async hello')) : Promise.resolve(modules[s]);
    await assert.rejects(modules.a.instantiate(context, rejecting), /async hello/);
    await modules.a.instantiate(context, (s) => Promise.resolve(modules[s]));
    modules.a.instantiateSync(context, () => {
      throw new Error('links are remembered: never called');
    });
    await modules.a.instantiate(context, () => {
      throw new Error('never called');
    });
    modules.a.evaluateSync();
    assert.equal(modules.a.namespace.getSync('a'), 1);
    const importing = isolate.compileModuleSync('import "x"');
    const promising = () => Promise.resolve(modules.c) as never;
    if (isIslet) assert.throws(() => importing.instantiateSync(context, promising), /Promise/);
  });
});
