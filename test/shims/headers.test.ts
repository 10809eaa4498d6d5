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
    entries: [['a', '1'], ['b', '2'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']],
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
  assert.deepEqual(value, { afterSet: [['x', '9'], ['y', '3']], afterDelete: [['x', '9']] });
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
