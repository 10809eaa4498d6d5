import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEvaluator, runThrows } from './helpers';

const e = makeEvaluator();
after(() => e.close());

test('EventTarget: once, removal, handleEvent objects, stopImmediatePropagation, preventDefault', async () => {
  const value = await e.run(`
    const t = new EventTarget(); const log = [];
    const f = () => log.push('f');
    t.addEventListener('x', f); t.addEventListener('x', f);
    t.addEventListener('x', { handleEvent(ev) { log.push('obj:' + ev.type); } });
    t.addEventListener('x', () => log.push('once'), { once: true });
    const first = t.dispatchEvent(new Event('x'));
    t.dispatchEvent(new Event('x'));
    t.removeEventListener('x', f);
    t.addEventListener('y', (ev) => { ev.preventDefault(); ev.stopImmediatePropagation(); log.push('y1'); });
    t.addEventListener('y', () => log.push('y2'));
    const notCancelled = t.dispatchEvent(new Event('y', { cancelable: true }));
    return [log, first, notCancelled];`);
  assert.deepEqual(value, [['f', 'obj:x', 'once', 'f', 'obj:x', 'y1'], true, false]);
});

test('CustomEvent carries detail; Event reports target during dispatch', async () => {
  const value = await e.run(`
    const t = new EventTarget(); let seen;
    t.addEventListener('c', (ev) => { seen = [ev.detail, ev.target === t, ev.currentTarget === t, ev.eventPhase]; });
    t.dispatchEvent(new CustomEvent('c', { detail: { a: 1 } }));
    return seen;`);
  assert.deepEqual(value, [{ a: 1 }, true, true, 2]);
});

test('AbortController aborts its signal once, with an AbortError DOMException by default', async () => {
  const value = await e.run(
    `
    const c = new AbortController(); let events = 0;
    c.signal.addEventListener('abort', () => events++);
    c.signal.onabort = () => events++;
    c.abort(); c.abort('again');
    let thrown; try { c.signal.throwIfAborted(); } catch (err) { thrown = [err.name, err instanceof ` +
      `DOMException, err.code]; }
    const custom = new AbortController(); custom.abort('why');
    return [c.signal.aborted, events, thrown, custom.signal.reason];`,
  );
  assert.deepEqual(value, [true, 2, ['AbortError', true, 20], 'why']);
});

test('AbortSignal.abort, timeout and any', async () => {
  const value = await e.run(`
    const a = AbortSignal.abort();
    const t = AbortSignal.timeout(5);
    await new Promise((r) => t.addEventListener('abort', r));
    const c = new AbortController();
    const any = AbortSignal.any([c.signal, AbortSignal.timeout(10000)]);
    c.abort('first');
    const already = AbortSignal.any([AbortSignal.abort('pre')]);
    return [a.aborted, a.reason.name, t.reason.name, any.aborted, any.reason, already.reason];`);
  assert.deepEqual(value, [true, 'AbortError', 'TimeoutError', true, 'first', 'pre']);
  assert.equal((await runThrows(e, `new AbortSignal()`)).name, 'TypeError');
});

test('DOMException has name, message, legacy code and constants', async () => {
  const value = await e.run(
    `const d = new DOMException('m', 'NotFoundError'); return [d.name, d.message, ` +
      `d.code, DOMException.NOT_FOUND_ERR, d instanceof Error, Object.prototype.toString.call(d)];`,
  );
  assert.deepEqual(value, ['NotFoundError', 'm', 8, 8, true, '[object DOMException]']);
});

test(
  'structuredClone copies deep structures (Map, Date, cycles) and refuses functions with ' + 'DataCloneError',
  async () => {
    const value = await e.run(`
    const o = { m: new Map([[1, { d: new Date(5) }]]), s: new Set([1]), b: new Uint8Array([1, 2]) }; o.self = o;
    const c = structuredClone(o);
    let err; try { structuredClone({ f() {} }); } catch (x) { err = [x.name, x instanceof DOMException]; }
    return [c !== o, c.self === c, c.m.get(1).d.getTime(), c.m.get(1).d instanceof Date, [...c.s], [...c.b], err];`);
    assert.deepEqual(value, [true, true, 5, true, [1], [1, 2], ['DataCloneError', true]]);
  },
);

test('globals: self, globalThis, navigator.userAgent, performance.now, queueMicrotask', async () => {
  const value = await e.run(`
    const order = []; queueMicrotask(() => order.push('micro')); order.push('sync'); await null;
    const t0 = performance.now(); const t1 = performance.now();
    return [self === globalThis, typeof navigator.userAgent, t1 >= t0, typeof t0, order];`);
  assert.deepEqual(value, [true, 'string', true, 'number', ['sync', 'micro']]);
});
