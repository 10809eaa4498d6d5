// createContext({ promiseRejections: true }) (issue 18, unhandled rejections): the hidden global
// __isletPromiseRejections(handler) routes V8's promise rejection notifications of the context to
// the handler: kind 0 for a promise rejected with no handler, 1 for a handler added afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ivm, isletOnly } from './support';

test('only when asked for: hidden, deletable, refuses a non-function', isletOnly, () => {
  const isolate = new ivm.Isolate({ memoryLimit: 32 });
  try {
    assert.equal(isolate.createContextSync().evalSync('typeof __isletPromiseRejections'), 'undefined');
    const context = isolate.createContextSync({ promiseRejections: true });
    const shape = context.evalSync(`JSON.stringify([
      typeof __isletPromiseRejections, Object.keys(globalThis).includes('__isletPromiseRejections'),
      (() => { try { __isletPromiseRejections(1); } catch (e) { return e.name; } })(),
      delete globalThis.__isletPromiseRejections && typeof globalThis.__isletPromiseRejections])`);
    assert.deepEqual(JSON.parse(shape), ['function', false, 'TypeError', 'undefined']);
    assert.throws(() => isolate.createContextSync({ promiseRejections: 'yes' } as never), /must be a boolean/);
  } finally {
    isolate.dispose();
  }
});

test('the handler hears of rejections without a handler and of late handlers, per context', isletOnly, async () => {
  const isolate = new ivm.Isolate({ memoryLimit: 32 });
  try {
    const context = isolate.createContextSync({ promiseRejections: true });
    const other = isolate.createContextSync({ promiseRejections: true });
    const setup = `globalThis.log = [];
      __isletPromiseRejections((kind, promise, reason) => log.push([kind, promise instanceof Promise, String(reason)]));`;
    context.evalSync(setup);
    other.evalSync(setup);
    context.evalSync(`globalThis.p = Promise.reject(new Error('a')); Promise.resolve().then(() => p.catch(() => {}));
      Promise.reject('b').catch(() => {});`);
    await context.eval('new Promise((resolve) => resolve())', { promise: true });
    // V8 reports a promise rejected before its handler is attached, even in the same statement,
    // then the handler: the bootstrap waits for the end of the entry before it calls one unhandled
    assert.deepEqual(JSON.parse(context.evalSync('JSON.stringify(log)')), [
      [0, true, 'Error: a'],
      [0, true, 'b'],
      [1, true, 'undefined'],
      [1, true, 'undefined'],
    ]);
    assert.equal(other.evalSync('log.length'), 0);
  } finally {
    isolate.dispose();
  }
});
