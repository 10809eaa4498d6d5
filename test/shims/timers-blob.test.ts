import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEvaluator, runThrows, testLimits } from './helpers';

const e = makeEvaluator();
after(() => e.close());

test('setTimeout passes arguments and orders by delay; clearTimeout cancels', async () => {
  const value = await e.run(`
    const log = [];
    setTimeout((a, b) => log.push('late:' + a + b), 20, 'x', 'y');
    setTimeout(() => log.push('early'), 1);
    const cancelled = setTimeout(() => log.push('cancelled'), 5);
    clearTimeout(cancelled);
    await new Promise((r) => setTimeout(r, 40));
    return [log, typeof cancelled];`);
  assert.deepEqual(value, [['early', 'late:xy'], 'number']);
});

test('setInterval repeats until clearInterval', async () => {
  const value = await e.run(`
    let n = 0;
    const id = setInterval(() => { n++; if (n === 3) clearInterval(id); }, 2);
    const start = Date.now();
    while (n < 3 && Date.now() - start < 3000) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 30)); // a live interval would have fired again by now
    return n;`);
  assert.equal(value, 3);
  assert.equal((await runThrows(e, `setTimeout('alert(1)', 1)`)).name, 'TypeError');
});

test('Blob concatenates parts, slices with negative indexes, streams and normalises its type', async () => {
  const value = await e.run(`
    const b = new Blob(['ab', new Uint8Array([99]), new Blob(['de'])], { type: 'Text/Plain' });
    const s = b.slice(-3, -1, 'x/y');
    const chunks = []; for await (const c of b.stream()) chunks.push(...c);
    const f = new File(['x'], 'name.txt', { type: 'text/plain', lastModified: 42 });
    return [b.size, b.type, await b.text(), await s.text(), s.type, chunks.length, f.name, f.lastModified, f.size, f instanceof Blob, Object.prototype.toString.call(f)];`);
  assert.deepEqual(value, [5, 'text/plain', 'abcde', 'cd', 'x/y', 5, 'name.txt', 42, 1, true, '[object File]']);
});

test('console messages are cut before crossing the bridge', async () => {
  const big = makeEvaluator({ limits: { ...testLimits, logBytes: 1 << 20 } });
  try {
    await big.run(`console.log('x'.repeat(100000)); return null;`);
    const record = big.logs.find((l) => l.message.startsWith('xxx'));
    assert.ok(record);
    assert.ok(record.message.length < 17000);
    assert.match(record.message, /more characters\]$/);
  } finally {
    big.close();
  }
});

test('an exception thrown by a timer callback or an event listener is logged as Uncaught, not lost', async () => {
  await e.run(`
    setTimeout(() => { throw new TypeError('from a timer'); }, 1);
    const t = new EventTarget(); t.addEventListener('x', () => { throw new RangeError('from a listener'); }); t.dispatchEvent(new Event('x'));
    await new Promise((r) => setTimeout(r, 20));
    return null;`);
  const errors = e.logs.filter((l) => l.level === 'error').map((l) => l.message.split('\n')[0]);
  assert.ok(errors.includes('Uncaught TypeError: from a timer'), JSON.stringify(errors));
  assert.ok(errors.includes('Uncaught RangeError: from a listener'), JSON.stringify(errors));
});

test('a timer delay is a WebIDL long: 2^32 ms wraps to 0 and fires at once, fractions truncate', async () => {
  const value = await e.run(`
    const order = [];
    const fired = (name) => () => order.push(name);
    setTimeout(fired('2^32'), 2 ** 32);
    setTimeout(fired('100'), 100);
    setTimeout(fired('2^32 + 1'), 2 ** 32 + 1);
    await new Promise((resolve) => setTimeout(resolve, 150));
    return order;`);
  assert.deepEqual(value, ['2^32', '2^32 + 1', '100']);
});
