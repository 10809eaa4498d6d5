// Numbers and options are validated and clamped with messages naming the option (issue 14,
// item 6): Infinity or a huge timeout means no practical limit instead of an instant cut, a huge
// memoryLimit is clamped instead of overflowing, and a non-object options argument is refused.
import { test } from 'node:test';
import { inChild } from './child';

test('timeout and cpuTimeout: Infinity and huge values are clamped, garbage is a TypeError naming it', async () => {
  await inChild(
    'timeouts',
    `const context = new ivm.Isolate().createContextSync();
    const spin = (ms, value) =>
      'const end' + value + ' = Date.now() + ' + ms + '; while (Date.now() < end' + value + '); ' + value;
    assert.equal(context.evalSync(spin(30, 1), { timeout: Infinity }), 1);
    assert.equal(context.evalSync(spin(30, 2), { timeout: 1e13 }), 2);
    assert.equal(context.evalSync(spin(30, 3), { timeout: Number.MAX_VALUE, cpuTimeout: Infinity }), 3);
    assert.equal(context.evalSync('4', { timeout: 0 }), 4);
    for (const timeout of [NaN, -1, '5', {}, -Infinity, Symbol('x')]) {
      const named = (e) => e instanceof TypeError && /\\\`timeout\\\`/.test(e.message);
      assert.throws(() => context.evalSync('1', { timeout }), named);
    }
    assert.throws(() => context.evalSync('1', { cpuTimeout: -5 }), /cpuTimeout/);
    assert.throws(() => context.evalSync('for(;;){}', { timeout: 20 }), /timed out/);
    console.log('ok');`,
  );
});

test('memoryLimit: Infinity, 2^44 and 1e20 give a working isolate; too small, NaN or a string: refused', async () => {
  await inChild(
    'memory limits',
    `for (const memoryLimit of [Infinity, 2 ** 44, 1e20]) {
      const isolate = new ivm.Isolate({ memoryLimit });
      const context = isolate.createContextSync();
      assert.equal(context.evalSync('const a = []; for (let k = 0; k < 1e5; k++) a.push({ k }); a.length'), 1e5);
      const bytes = context.evalSync('new Uint8Array(1 << 20).length + new ArrayBuffer(4096).byteLength');
      assert.equal(bytes, (1 << 20) + 4096);
      isolate.dispose();
    }
    for (const memoryLimit of [-1, 0, 7, NaN, '128']) {
      assert.throws(() => new ivm.Isolate({ memoryLimit }), /memoryLimit/);
    }
    console.log('ok');`,
  );
});

test("new Isolate('hello') and other non-object options: TypeError; undefined and null mean defaults", async () => {
  await inChild(
    'isolate options',
    `for (const options of ['hello', 5, true]) assert.throws(() => new ivm.Isolate(options), TypeError);
    assert.throws(() => ivm.Isolate(), TypeError);
    assert.throws(() => ivm.ExternalCopy({}), TypeError);
    new ivm.Isolate(undefined).dispose();
    new ivm.Isolate(null).dispose();
    const context = new ivm.Isolate().createContextSync();
    assert.throws(() => context.evalSync('1', 'options'), TypeError);
    for (const lineOffset of [NaN, 1e20, '1']) assert.throws(() => context.evalSync('1', { lineOffset }), /lineOffset/);
    console.log('ok');`,
  );
});
