// Module: compile, link, evaluate, namespace, meta and dynamic import().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ivm, isIslet, isletOnly, withContext } from './support';

function graph(isolate: ivm.Isolate, sources: Record<string, string>) {
  const modules = new Map<string, ivm.Module>();
  for (const [name, code] of Object.entries(sources))
    modules.set(name, isolate.compileModuleSync(code, { filename: `file:///${name}` }));
  const resolve = (specifier: string) => {
    const found = modules.get(specifier);
    if (!found) throw new Error(`no module named ${specifier}`);
    return found;
  };
  return { modules, resolve };
}

test('dependencySpecifiers, instantiateSync, evaluateSync and namespace', async () => {
  await withContext((isolate, context) => {
    const { modules, resolve } = graph(isolate, {
      'main.js':
        'import { a } from "a.js"; import b from "b.js"; export const sum = a + b; export function ' +
        'hi() { return "hi" }',
      'a.js': 'export const a = 1;',
      'b.js': 'export default 2;',
    });
    const main = modules.get('main.js')!;
    assert.deepEqual(main.dependencySpecifiers, ['a.js', 'b.js']);
    main.instantiateSync(context, resolve);
    main.evaluateSync();
    assert.equal(main.namespace.getSync('sum'), 3);
    assert.equal((main.namespace.getSync('hi') as () => string)(), 'hi', 'functions come back callable');
  });
});

test('async instantiate accepts a resolver returning Promises, and graphs with cycles', async () => {
  await withContext(async (isolate, context) => {
    const { modules, resolve } = graph(isolate, {
      'even.js': 'import { odd } from "odd.js"; export const even = (n) => n === 0 ? true : odd(n - 1);',
      'odd.js': 'import { even } from "even.js"; export const odd = (n) => n === 0 ? false : even(n - 1);',
      'main.js': 'import { even } from "even.js"; export const result = even(10);',
    });
    const main = modules.get('main.js')!;
    await main.instantiate(context, async (specifier) => resolve(specifier));
    await main.evaluate();
    assert.equal(await main.namespace.get('result'), true);
  });
});

test('resolve errors surface with the specifier named', async () => {
  await withContext(async (isolate, context) => {
    const { modules, resolve } = graph(isolate, { 'main.js': 'import "missing.js";' });
    assert.throws(() => modules.get('main.js')!.instantiateSync(context, resolve), /missing\.js/);
    await assert.rejects(
      modules.get('main.js')!.instantiate(context, async (s) => resolve(s)),
      /missing\.js/,
    );
  });
});

test('evaluate: errors keep their class, repeated calls return what the first did, timeouts apply', async () => {
  await withContext(async (isolate, context) => {
    const failing = isolate.compileModuleSync('throw new TypeError("module failed")', { filename: 'file:///fail.js' });
    failing.instantiateSync(context, () => {
      throw new Error('no imports');
    });
    assert.throws(
      () => failing.evaluateSync(),
      (error: Error) => error instanceof TypeError && /file:\/\/\/fail\.js:1/.test(String(error.stack)),
    );
    if (isIslet)
      assert.throws(() => failing.evaluateSync(), /module failed/, 'a repeated evaluate throws what the first did');
    const counter = isolate.compileModuleSync('globalThis.runs = (globalThis.runs || 0) + 1;');
    counter.instantiateSync(context, () => counter);
    counter.evaluateSync();
    await counter.evaluate();
    assert.equal(context.evalSync('runs'), 1);
    const spin = isolate.compileModuleSync('for (;;) {}');
    spin.instantiateSync(context, () => spin);
    assert.throws(() => spin.evaluateSync({ timeout: 40 }), /Script execution timed out\./);
  });
});

test('compileModule with cached data', async () => {
  await withContext(async (isolate) => {
    const code = 'export const values = [' + Array.from({ length: 200 }, (_, i) => `() => ${i}`).join(',') + '];';
    const first = await isolate.compileModule(code, { produceCachedData: true });
    assert.ok(first.cachedData);
    const second = isolate.compileModuleSync(code, { cachedData: first.cachedData });
    assert.equal(second.cachedDataRejected, false);
  });
});

test('import.meta is initialised by a meta callback of the isolate that compiles the module', async () => {
  await withContext((isolate, context) => {
    // From Node the callback could not write import.meta of another isolate: refused at once.
    assert.throws(() => isolate.compileModuleSync('export default import.meta.url', { meta: () => {} }), TypeError);
    const url = context.evalClosureSync(
      `const module = $0.compileModuleSync('export const url = import.meta.url;', { meta: (meta) => { ` +
        `meta.url = 'file:///meta.js' } });
       module.instantiateSync($1, () => {});
       module.evaluateSync();
       return module.namespace.deref().url;`,
      [isolate, context],
    );
    assert.equal(url, 'file:///meta.js');
  });
});

test('dynamic import() goes through the host resolver, and fails clearly without one', isletOnly, async () => {
  await withContext(async (isolate, context) => {
    await assert.rejects(
      context.eval('import("x.js")', { promise: true }) as Promise<unknown>,
      /no dynamic import resolver/,
    );
    const { modules, resolve } = graph(isolate, {
      'lazy.js': 'import { base } from "base.js"; export const value = base * 2;',
      'base.js': 'export const base = 21;',
    });
    const asked: string[] = [];
    isolate.setDynamicImportResolver((specifier, referrer) => {
      asked.push(
        `${specifier} from ${referrer instanceof ivm.Module ? 'module' : (referrer as { filename: string }).filename}`,
      );
      return resolve(specifier);
    });
    const value = await context.eval('import("lazy.js").then((m) => m.value)', {
      promise: true,
      filename: 'file:///entry.js',
    });
    assert.equal(value, 42);
    assert.deepEqual(asked, ['lazy.js from file:///entry.js', 'base.js from module']);
    await assert.rejects(context.eval('import("nope.js")', { promise: true }) as Promise<unknown>, /nope\.js/);
    assert.ok(modules.size === 2);
  });
});
