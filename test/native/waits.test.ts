// Waits and proxied promises are tied to the life of their isolates (issue 14, item 5): they
// settle or reject when an isolate is disposed or Node's environment ends, and a promise
// nothing will ever settle does not keep Node alive. Each case runs in a child process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inChild } from './child';

test('applySyncPromise on a host promise that never settles: dispose() rejects it, frees its thread', async () => {
  await inChild(
    'applySyncPromise then dispose',
    `(async () => {
      const isolates = [];
      for (let n = 0; n < 6; n++) {
        const isolate = new ivm.Isolate();
        const context = isolate.createContextSync();
        context.global.setSync('never', new ivm.Reference(() => new Promise(() => {})));
        isolates.push([isolate, context.eval('never.applySyncPromise(undefined, [])')]);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      for (const [isolate, waiting] of isolates) {
        isolate.dispose();
        await assert.rejects(waiting, /disposed/);
      }
      // every pool thread is back: more isolates than the pool has threads still compute
      const more = Array.from({ length: 8 }, () => new ivm.Isolate().createContextSync().eval('6 * 7'));
      assert.deepEqual(await Promise.all(more), Array(8).fill(42));
      console.log('ok');
    })();`,
  );
});

test('applySyncPromise honours timeout, and Node cannot wait to enter an isolate that waits for Node', async () => {
  await inChild(
    'applySyncPromise timeout and deadlock',
    `(async () => {
      const isolate = new ivm.Isolate();
      const context = isolate.createContextSync();
      let release;
      context.global.setSync('never', new ivm.Reference(() => new Promise(() => {})));
      context.global.setSync('later', new ivm.Reference(() => new Promise((resolve) => { release = resolve; })));
      await assert.rejects(context.eval('never.applySyncPromise(undefined, [], { timeout: 30 })'), /timed out/);
      const waiting = context.eval('later.applySyncPromise(undefined, [])');
      await new Promise((resolve) => setTimeout(resolve, 30));
      assert.throws(() => context.evalSync('1'), (e) => e.code === 'ERR_ISOLATE_DEADLOCK');
      release(3);
      assert.equal(await waiting, 3);
      assert.throws(() => context.evalSync('never.applySyncPromise(undefined, [])'), /default thread/);
      console.log('ok');
    })();`,
  );
});

test('a proxied promise of a disposed isolate rejects; one that never settles does not keep Node alive', async () => {
  await inChild(
    'proxied promises',
    `(async () => {
      const isolate = new ivm.Isolate();
      const context = isolate.createContextSync();
      const fromSync = context.evalSync('new Promise(() => {})', { promise: true });
      const fromAsync = context.eval('new Promise(() => {})', { promise: true });
      isolate.dispose();
      await assert.rejects(fromSync, /disposed/);
      await assert.rejects(fromAsync, /disposed/);
      const other = new ivm.Isolate().createContextSync();
      other.evalSync('new Promise(() => {})', { promise: true }).then(() => console.log('settled?'));
      console.log('ok');
    })();`,
    { timeoutMs: 15_000 },
  );
});

test('{ promise: true } always gives a Promise, a plain value arriving already resolved', async () => {
  await inChild(
    'promise option on values',
    `(async () => {
      const context = new ivm.Isolate().createContextSync();
      const global = context.global;
      global.setSync('value', 5);
      const got = global.getSync('value', { promise: true });
      assert.ok(got instanceof Promise);
      assert.equal(await got, 5);
      assert.equal(await context.evalSync('6', { promise: true }), 6);
      console.log('ok');
    })();`,
  );
});

test('the process exits while a pool thread waits in applySyncPromise', async () => {
  const result = await inChild(
    'exit during applySyncPromise',
    `const context = new ivm.Isolate().createContextSync();
    context.global.setSync('never', new ivm.Reference(() => new Promise(() => {})));
    context.eval('never.applySyncPromise(undefined, [])').catch(() => {});
    setTimeout(() => { console.log('ok'); process.exit(0); }, 30);`,
  );
  assert.ok(result.ms < 10_000);
});
