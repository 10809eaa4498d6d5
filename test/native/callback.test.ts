// Callback and plain functions crossing into an isolate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ivm, withContext } from './support';

test("a sync Callback runs on Node's thread during the isolate's run and returns a copy", async () => {
  await withContext((_isolate, context) => {
    const calls: unknown[][] = [];
    context.global.setSync(
      'host',
      new ivm.Callback((...args: unknown[]) => {
        calls.push(args);
        return { got: args.length };
      }),
    );
    assert.equal(context.evalSync('host(1, "two", [3], { four: 4 }).got'), 4);
    assert.deepEqual(calls, [[1, 'two', [3], { four: 4 }]]);
    context.global.setSync('fail', () => {
      throw new RangeError('host says no');
    });
    assert.equal(context.evalSync('try { fail() } catch (e) { e instanceof RangeError && e.message }'), 'host says no');
  });
});

test('async and ignored Callbacks', async () => {
  await withContext(async (_isolate, context) => {
    let ignoredWith: unknown;
    context.global.setSync('later', new ivm.Callback((x: number) => x * 2, { async: true }));
    context.global.setSync(
      'fire',
      new ivm.Callback(
        (x: unknown) => {
          ignoredWith = x;
          return 'dropped';
        },
        { ignored: true },
      ),
    );
    assert.equal(await context.eval('later(21)', { promise: true }), 42);
    assert.equal(context.evalSync('fire("x")'), undefined);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(ignoredWith, 'x');
  });
});

test('Callbacks work from isolates running on the pool', async () => {
  await withContext(async (_isolate, context) => {
    context.global.setSync('twice', (x: number) => x * 2);
    assert.equal(await context.eval('let s = 0; for (let i = 0; i < 100; i++) s += twice(i); s'), 9900);
  });
});
