// Event and EventTarget details of the DOM Standard that code ported from browsers relies on:
// the legacy members (initEvent, returnValue, cancelBubble, srcElement), isTrusted, how
// addEventListener reads its options (passive, signal), listener errors reported to the global
// scope, and the order in which AbortSignal.any's dependents abort.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEvaluator, runThrows } from './helpers';

const e = makeEvaluator();
after(() => e.close());

test('initEvent re-initialises an event that is not being dispatched', async () => {
  const value = await e.run(`
    const ev = new Event('first', { bubbles: true });
    ev.stopPropagation(); ev.preventDefault();
    ev.initEvent('second', false, true);
    const afterInit = [ev.type, ev.bubbles, ev.cancelable, ev.cancelBubble, ev.defaultPrevented];
    const t = new EventTarget(); let inside;
    t.addEventListener('second', (x) => { x.initEvent('ignored', true, false); inside = [x.type, x.bubbles]; });
    t.dispatchEvent(ev);
    return [afterInit, inside, typeof Event.prototype.initEvent, Event.prototype.initEvent.length];`);
  assert.deepEqual(value, [['second', false, true, false, false], ['second', false], 'function', 1]);
});

test('returnValue mirrors the canceled flag and setting it false cancels a cancelable event', async () => {
  const value = await e.run(`
    const a = new Event('x', { cancelable: true }); const before = a.returnValue;
    a.returnValue = false; const cancelled = [a.returnValue, a.defaultPrevented];
    a.returnValue = true; const stays = a.defaultPrevented;
    const b = new Event('x'); b.returnValue = false;
    return [before, cancelled, stays, b.defaultPrevented, b.returnValue];`);
  assert.deepEqual(value, [true, [false, true], true, false, true]);
});

test('cancelBubble stops propagation and only true is kept; srcElement is the target', async () => {
  const value = await e.run(`
    const ev = new Event('x'); ev.cancelBubble = true; ev.cancelBubble = false;
    const kept = ev.cancelBubble;
    const t = new EventTarget(); let src;
    t.addEventListener('y', (x) => { src = x.srcElement === t; });
    t.dispatchEvent(new Event('y'));
    return [kept, src, new Event('z').srcElement];`);
  assert.deepEqual(value, [true, true, null]);
});

test('isTrusted is an own accessor of every event, shared, false for constructed events, true for abort', async () => {
  const value = await e.run(`
    const d1 = Object.getOwnPropertyDescriptor(new Event('a'), 'isTrusted');
    const d2 = Object.getOwnPropertyDescriptor(new CustomEvent('b'), 'isTrusted');
    const c = new AbortController(); let trusted;
    c.signal.addEventListener('abort', (ev) => { trusted = ev.isTrusted; });
    c.abort();
    return [typeof d1.get, d1.get === d2.get, d1.configurable, new Event('a').isTrusted, trusted];`);
  assert.deepEqual(value, ['function', true, false, false, true]);
});

test('addEventListener reads capture, once, passive and signal; removeEventListener reads only capture', async () => {
  const value = await e.run(`
    const read = [];
    const options = (tag) => ({
      get capture() { read.push(tag + ':capture'); return false; },
      get once() { read.push(tag + ':once'); return false; },
      get passive() { read.push(tag + ':passive'); return false; },
      get signal() { read.push(tag + ':signal'); return undefined; },
    });
    const t = new EventTarget();
    t.addEventListener('x', null, options('add'));
    t.removeEventListener('x', null, options('remove'));
    return read;`);
  assert.deepEqual(value, ['add:capture', 'add:once', 'add:passive', 'add:signal', 'remove:capture']);
});

test('a passive listener cannot cancel; a non-object option is the capture flag', async () => {
  const value = await e.run(`
    const t = new EventTarget(); const seen = [];
    const cancel = (ev) => { ev.preventDefault(); ev.returnValue = false; seen.push(ev.defaultPrevented); };
    t.addEventListener('p', cancel, { passive: true });
    const notCancelled = t.dispatchEvent(new Event('p', { cancelable: true }));
    let calls = 0; const f = () => calls++;
    t.addEventListener('c', f, 1); t.removeEventListener('c', f, true);
    t.dispatchEvent(new Event('c'));
    return [seen, notCancelled, calls];`);
  assert.deepEqual(value, [[false], true, 0]);
});

test('signal: null is a TypeError, even for a null listener; an aborted signal adds nothing', async () => {
  assert.equal(
    (await runThrows(e, `new EventTarget().addEventListener('x', () => {}, { signal: null })`)).name,
    'TypeError',
  );
  assert.equal(
    (await runThrows(e, `new EventTarget().addEventListener('x', null, { signal: null })`)).name,
    'TypeError',
  );
  assert.equal(
    (await runThrows(e, `new EventTarget().addEventListener('x', () => {}, { signal: {} })`)).name,
    'TypeError',
  );
  const calls = await e.run(`
    const t = new EventTarget(); let n = 0;
    t.addEventListener('x', () => n++, { signal: AbortSignal.abort() });
    t.dispatchEvent(new Event('x')); return n;`);
  assert.equal(calls, 0);
});

test("a listener's exception is reported to the global scope as an ErrorEvent and the others still run", async () => {
  const value = await e.run(`
    const reported = [];
    const onError = (ev) => {
      reported.push([ev.constructor.name, ev.message, ev.error && ev.error.message]);
      ev.preventDefault();
    };
    addEventListener('error', onError);
    const t = new EventTarget(); const order = [];
    t.addEventListener('x', () => { order.push(1); throw new Error('boom'); });
    t.addEventListener('x', () => order.push(2));
    t.dispatchEvent(new Event('x'));
    removeEventListener('error', onError);
    return [order, reported];`);
  assert.deepEqual(value, [[1, 2], [['ErrorEvent', 'boom', 'boom']]]);
});

test('dispatching an event that is being dispatched is an InvalidStateError', async () => {
  const value = await e.run(`
    const t = new EventTarget(); let name;
    t.addEventListener('x', (ev) => { try { t.dispatchEvent(ev); } catch (err) { name = err.name; } });
    t.dispatchEvent(new Event('x'));
    return name;`);
  assert.equal(value, 'InvalidStateError');
});

test('AbortSignal.any: dependents are aborted before any abort event fires, in creation order', async () => {
  const value = await e.run(`
    const controller = new AbortController();
    const signals = [controller.signal];
    for (let i = 0; i < 3; i++) signals.push(AbortSignal.any([signals[signals.length - 1]]));
    let order = ''; const abortedAtFirstEvent = [];
    signals.forEach((s, i) => s.addEventListener('abort', () => {
      if (order === '') abortedAtFirstEvent.push(...signals.map((x) => x.aborted));
      order += i;
    }));
    controller.abort('why');
    return [order, abortedAtFirstEvent, signals.map((s) => s.reason)];`);
  assert.deepEqual(value, ['0123', [true, true, true, true], ['why', 'why', 'why', 'why']]);
});

test('AbortSignal.any: a reentrant abort keeps the first reason for every dependent', async () => {
  const value = await e.run(`
    const first = new AbortController(); const second = new AbortController();
    const combined = AbortSignal.any([first.signal, second.signal]);
    first.signal.addEventListener('abort', () => second.abort('reason 2'));
    first.abort('reason 1');
    return combined.reason;`);
  assert.equal(value, 'reason 1');
});
