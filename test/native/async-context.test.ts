// islet's async context (issue 18, "AsyncLocalStorage done properly"): createContext({ asyncContext:
// true }) gives code in the isolate get()/set() over V8's continuation-preserved embedder data.
// The AsyncLocalStorage below is written in the test, as a bootstrap would write it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ivm, isletOnly } from './support';

// An AsyncLocalStorage over __isletAsyncContext, evaluated in the isolate before each test's code.
const BOOTSTRAP = `
  const asyncContext = globalThis.__isletAsyncContext;
  delete globalThis.__isletAsyncContext;
  class AsyncLocalStorage {
    run(store, fn, ...args) {
      const frame = new Map(asyncContext.get() ?? []);
      frame.set(this, store);
      const previous = asyncContext.set(frame);
      try { return fn(...args); } finally { asyncContext.set(previous); }
    }
    getStore() { return asyncContext.get()?.get(this); }
  }
  globalThis.AsyncLocalStorage = AsyncLocalStorage;
  globalThis.log = [];
`;

async function withAsyncContext<T>(fn: (context: ivm.Context) => Promise<T>): Promise<T> {
  const isolate = new ivm.Isolate({ memoryLimit: 32 });
  try {
    const context = isolate.createContextSync({ asyncContext: true });
    context.evalSync(BOOTSTRAP);
    return await fn(context);
  } finally {
    isolate.dispose();
  }
}

const readLog = (context: ivm.Context): string[] => JSON.parse(context.evalSync('JSON.stringify(log)'));

test('the hidden object is there only when asked for, not enumerable, frozen and deletable', isletOnly, () => {
  const isolate = new ivm.Isolate({ memoryLimit: 32 });
  try {
    assert.equal(isolate.createContextSync().evalSync('typeof globalThis.__isletAsyncContext'), 'undefined');
    const context = isolate.createContextSync({ asyncContext: true });
    const shape = JSON.parse(
      context.evalSync(`JSON.stringify({
        enumerable: Object.keys(globalThis).includes('__isletAsyncContext'),
        frozen: Object.isFrozen(__isletAsyncContext),
        get: typeof __isletAsyncContext.get, set: typeof __isletAsyncContext.set,
        initial: String(__isletAsyncContext.get()),
        replaced: String(__isletAsyncContext.set(1)), now: __isletAsyncContext.get(),
        deleted: delete globalThis.__isletAsyncContext && typeof globalThis.__isletAsyncContext,
      })`),
    );
    assert.deepEqual(shape, {
      enumerable: false,
      frozen: true,
      get: 'function',
      set: 'function',
      initial: 'undefined',
      replaced: 'undefined',
      now: 1,
      deleted: 'undefined',
    });
    assert.throws(
      () => isolate.createContextSync({ asyncContext: 'yes' } as never),
      /`asyncContext` must be a boolean/,
    );
  } finally {
    isolate.dispose();
  }
});

test('the store survives await, .then callbacks and thenables, and is gone outside run()', isletOnly, async () => {
  await withAsyncContext(async (context) => {
    await context.eval(`
      const als = new AsyncLocalStorage();
      (async () => {
        await als.run('request-1', async () => {
          log.push('sync:' + als.getStore());
          await null;
          log.push('after await:' + als.getStore());
          await new Promise((resolve) => resolve()).then(() => log.push('then:' + als.getStore()));
          await { then(resolve) { resolve(); } };
          log.push('after thenable:' + als.getStore());
        });
        log.push('outside:' + als.getStore());
      })();
    `);
    assert.deepEqual(readLog(context), [
      'sync:request-1',
      'after await:request-1',
      'then:request-1',
      'after thenable:request-1',
      'outside:undefined',
    ]);
  });
});

test(
  'a reaction made inside run() keeps its store when the promise settles later, outside run()',
  isletOnly,
  async () => {
    await withAsyncContext(async (context) => {
      context.evalSync(`
      const als = new AsyncLocalStorage();
      let settle;
      const later = new Promise((resolve) => { settle = resolve; });
      als.run('inside', () => { later.then(() => log.push('reaction:' + als.getStore())); });
      later.then(() => log.push('outside reaction:' + als.getStore()));
      globalThis.settleLater = () => settle();
    `);
      assert.deepEqual(readLog(context), [], 'nothing has run yet');
      // Settled by a later call, from the host: the reaction still runs with the store it was made in.
      await context.eval('new AsyncLocalStorage().run("other", () => settleLater())');
      assert.deepEqual(readLog(context), ['reaction:inside', 'outside reaction:undefined']);
    });
  },
);

test('a promise settled by the host (an async host callback) resumes with the awaiting store', isletOnly, async () => {
  await withAsyncContext(async (context) => {
    await context.global.set('hostFetch', new ivm.Callback(async (url: string) => `body of ${url}`, { async: true }));
    await context.eval(`
      const als = new AsyncLocalStorage();
      globalThis.done = Promise.all(['a', 'b'].map((id) => als.run(id, async () => {
        const body = await hostFetch('https://example.test/' + id);
        log.push(id + ':' + als.getStore() + ':' + body);
      })));
    `);
    await context.eval('done', { promise: true });
    assert.deepEqual(readLog(context).sort(), [
      'a:a:body of https://example.test/a',
      'b:b:body of https://example.test/b',
    ]);
  });
});

test(
  'nested runs restore the outer store; concurrent runs interleaving at awaits keep their own',
  isletOnly,
  async () => {
    await withAsyncContext(async (context) => {
      await context.eval(`
      const als = new AsyncLocalStorage();
      const other = new AsyncLocalStorage();
      const tick = () => new Promise((resolve) => resolve());
      async function worker(name) {
        for (let step = 0; step < 3; step++) {
          log.push(name + step + ':' + als.getStore() + '/' + String(other.getStore()));
          await tick();
        }
      }
      als.run('outer', () => {
        other.run('o', () => {
          als.run('inner', () => { log.push('nested:' + als.getStore() + '/' + other.getStore()); });
          log.push('restored:' + als.getStore() + '/' + other.getStore());
        });
      });
      globalThis.done = Promise.all([als.run('A', worker, 'a'), als.run('B', worker, 'b'), worker('c')]);
    `);
      await context.eval('done', { promise: true });
      assert.deepEqual(readLog(context), [
        'nested:inner/o',
        'restored:outer/o',
        'a0:A/undefined',
        'b0:B/undefined',
        'c0:undefined/undefined',
        'a1:A/undefined',
        'b1:B/undefined',
        'c1:undefined/undefined',
        'a2:A/undefined',
        'b2:B/undefined',
        'c2:undefined/undefined',
      ]);
    });
  },
);
