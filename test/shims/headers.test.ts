import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEvaluator, runThrows } from './helpers';

const e = makeEvaluator();
after(() => e.close());

test('Headers lower-cases names, trims values and combines duplicates with ", "', async () => {
  const value = await e.run(`
    const h = new Headers({ 'Content-Type': '  text/plain \\t' });
    h.append('X-Many', 'a'); h.append('x-many', 'b');
    return { ct: h.get('content-type'), many: h.get('X-MANY'), has: h.has('x-many'), missing: h.get('nope') };`);
  assert.deepEqual(value, { ct: 'text/plain', many: 'a, b', has: true, missing: null });
});

test('Headers iterates sorted by name and keeps set-cookie values apart (getSetCookie)', async () => {
  const value = await e.run(`
    const h = new Headers([['b', '2'], ['Set-Cookie', 'a=1'], ['a', '1'], ['set-cookie', 'b=2']]);
    return { entries: [...h], cookies: h.getSetCookie(), get: h.get('set-cookie'), keys: [...h.keys()] };`);
  assert.deepEqual(value, {
    entries: [
      ['a', '1'],
      ['b', '2'],
      ['set-cookie', 'a=1'],
      ['set-cookie', 'b=2'],
    ],
    cookies: ['a=1', 'b=2'],
    get: 'a=1, b=2',
    keys: ['a', 'b', 'set-cookie', 'set-cookie'],
  });
});

test('Headers rejects invalid names and values with TypeError', async () => {
  assert.equal((await runThrows(e, `new Headers({ 'bad name': 'x' })`)).name, 'TypeError');
  assert.equal((await runThrows(e, `new Headers().set('x', 'a\\nb')`)).name, 'TypeError');
  assert.equal((await runThrows(e, `new Headers([['only-one']])`)).name, 'TypeError');
});

test('set replaces every value, delete removes every value', async () => {
  const value = await e.run(`
    const h = new Headers([['x', '1'], ['x', '2'], ['y', '3']]);
    h.set('X', '9'); const afterSet = [...h];
    h.delete('y');
    return { afterSet, afterDelete: [...h] };`);
  assert.deepEqual(value, {
    afterSet: [
      ['x', '9'],
      ['y', '3'],
    ],
    afterDelete: [['x', '9']],
  });
});

test('headers of Response.redirect() and Response.error() are immutable', async () => {
  const err = await runThrows(e, `Response.redirect('https://a.test/').headers.set('x', 'y')`);
  assert.equal(err.name, 'TypeError');
  assert.equal(await e.run(`const r = new Response('x'); r.headers.set('x', 'y'); return r.headers.get('x');`), 'y');
});

test('incoming request headers are readable and mutable copies are independent', async () => {
  const value = await e.run(`
    const copy = new Headers(request.headers); copy.set('x-added', '1');
    return { host: request.headers.get('host'), original: request.headers.has('x-added'), copy: copy.get('x-added') };`);
  assert.deepEqual(value, { host: null, original: false, copy: '1' });
});

test('new Headers(null) is a TypeError; undefined and no argument give empty headers', async () => {
  assert.equal((await runThrows(e, `new Headers(null)`)).name, 'TypeError');
  assert.deepEqual(await e.run(`return [[...new Headers(undefined)].length, [...new Headers()].length];`), [0, 0]);
});

test('iteration sees the headers as they are at each step (WebIDL pair iterator)', async () => {
  const value = await e.run(`
    const h = new Headers([['a', '1'], ['b', '2'], ['c', '3']]);
    const removedAhead = [];
    for (const [name] of h) { removedAhead.push(name); if (name === 'a') h.delete('b'); }
    const h2 = new Headers([['b', '2'], ['d', '4']]);
    const appended = [];
    for (const [name] of h2) { appended.push(name); if (name === 'b') h2.append('c', '3'); }
    const h3 = new Headers([['b', '2'], ['c', '3']]);
    const forEachSeen = [];
    h3.forEach((v, name) => { forEachSeen.push(name); if (name === 'b') h3.append('a', '1'); });
    return [removedAhead, appended, forEachSeen];`);
  assert.deepEqual(value, [
    ['a', 'c'],
    ['b', 'c', 'd'],
    ['b', 'b', 'c'],
  ]);
});

test('the Headers iterator is a WebIDL iterator: %IteratorPrototype% child, enumerable next, tagged', async () => {
  const value = await e.run(`
    const it = new Headers([['a', '1']]).keys();
    const proto = Object.getPrototypeOf(it);
    const iteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()));
    const next = Object.getOwnPropertyDescriptor(proto, 'next');
    return [Object.getPrototypeOf(proto) === iteratorPrototype, next.enumerable, next.writable, next.configurable,
      Object.prototype.toString.call(it), Headers.prototype[Symbol.iterator] === Headers.prototype.entries,
      it.next(), it.next()];`);
  assert.deepEqual(value, [
    true,
    true,
    true,
    true,
    '[object Headers Iterator]',
    true,
    { value: 'a', done: false },
    { done: true },
  ]);
});

test('a Headers init is read through its own iterator, and a record without extra traps', async () => {
  const value = await e.run(`
    const source = new Headers([['ignored', 'x']]);
    source[Symbol.iterator] = function* () { yield ['from-iterator', 'yes']; };
    const log = [];
    const proxy = new Proxy({ a: 'b' }, {
      get(t, k, r) { log.push('get:' + String(k)); return Reflect.get(t, k, r); },
      ownKeys(t) { log.push('ownKeys'); return Reflect.ownKeys(t); },
      getOwnPropertyDescriptor(t, k) { log.push('gopd:' + k); return Reflect.getOwnPropertyDescriptor(t, k); },
      getPrototypeOf(t) { log.push('getPrototypeOf'); return Reflect.getPrototypeOf(t); },
    });
    const fromRecord = new Headers(proxy);
    return [[...new Headers(source)], log, [...fromRecord]];`);
  assert.deepEqual(value, [
    [['from-iterator', 'yes']],
    ['get:Symbol(Symbol.iterator)', 'ownKeys', 'gopd:a', 'get:a'],
    [['a', 'b']],
  ]);
});

test('a record init converts each name and value to a ByteString as it reads them, before appending any', async () => {
  const value = await e.run(`
    const run = (record) => {
      const log = [];
      const proxy = new Proxy(record, {
        get(t, k, r) { if (typeof k === 'string') log.push('get:' + k); return Reflect.get(t, k, r); },
        getOwnPropertyDescriptor(t, k) { log.push('gopd:' + k); return Reflect.getOwnPropertyDescriptor(t, k); },
      });
      let name; try { new Headers(proxy); } catch (err) { name = err.name; }
      return [name, log];
    };
    return [run({ a: 'b', '\\uFFFF': 'd' }), run({ a: '\\uFFFF', c: 'd' })];`);
  assert.deepEqual(value, [
    ['TypeError', ['gopd:a', 'get:a', 'gopd:\uffff']],
    ['TypeError', ['gopd:a', 'get:a']],
  ]);
});
