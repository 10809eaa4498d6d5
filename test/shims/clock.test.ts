// The clock tenant code sees (runtime-shims/internal/clock.ts): it stands still while the code
// runs and moves when the host enters the isolate, and Date keeps every behaviour code relies on.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeEvaluator, testLimits } from './helpers';

const e = makeEvaluator({ limits: { ...testLimits, cpuMs: 2000 } });
after(() => e.close());

test('Date, performance.now and Intl read a time that stands still within one entry', async () => {
  const value = await e.run(`
    const t0 = Date.now(), n0 = new Date().getTime(), p0 = performance.now(), s0 = Date();
    const f0 = new Intl.DateTimeFormat('en', { hour: 'numeric', minute: 'numeric', second: 'numeric', fractionalSecondDigits: 3 }).format();
    const parts0 = JSON.stringify(new Intl.DateTimeFormat('en', { fractionalSecondDigits: 3, second: 'numeric' }).formatToParts());
    let x = 0; for (let i = 0; i < 3e7; i++) x += i;
    const f1 = new Intl.DateTimeFormat('en', { hour: 'numeric', minute: 'numeric', second: 'numeric', fractionalSecondDigits: 3 }).format();
    const parts1 = JSON.stringify(new Intl.DateTimeFormat('en', { fractionalSecondDigits: 3, second: 'numeric' }).formatToParts());
    return [t0 === Date.now(), n0 === new Date().getTime(), p0 === performance.now(), s0 === Date(), t0 === n0,
      f0 === f1, parts0 === parts1, x > 0];
  `);
  assert.deepEqual(value, [true, true, true, true, true, true, true, true]);
});

test('the clock moves when a timer fires or an operation completes', async () => {
  const value = await e.run(`
    const t0 = Date.now(), p0 = performance.now();
    await new Promise((r) => setTimeout(r, 25));
    const t1 = Date.now(), p1 = performance.now();
    await crypto.subtle.digest('SHA-256', new Uint8Array(8));
    return [t1 - t0 >= 20, p1 - p0 >= 20, Date.now() >= t1];
  `);
  assert.deepEqual(value, [true, true, true]);
});

test('Date keeps its behaviour: arguments, statics, instanceof, subclasses, constructor', async () => {
  const value = await e.run(`
    class Stamp extends Date { label() { return 'at ' + this.getTime(); } }
    const s = new Stamp(5);
    const now = new Stamp();
    return [
      new Date(0).toISOString(), new Date(2020, 0, 2).getDate(), new Date('2021-03-04T00:00:00Z').getTime(),
      Date.UTC(2020, 0, 1), Date.parse('1970-01-01T00:00:01Z'), Number.isNaN(new Date(undefined).getTime()),
      new Date() instanceof Date, s instanceof Date, s instanceof Stamp, s.label(), now.getTime() === Date.now(),
      Date.prototype.constructor === Date, new Date().constructor === Date, Date.length, Date.name, typeof Date(),
    ];
  `);
  assert.deepEqual(value, [
    '1970-01-01T00:00:00.000Z',
    2,
    1614816000000,
    1577836800000,
    1000,
    true,
    true,
    true,
    true,
    'at 5',
    true,
    true,
    true,
    7,
    'Date',
    'string',
  ]);
});
