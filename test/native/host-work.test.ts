// Work done for an isolate outside V8 is the isolate's (issue 16): the time of synchronous
// callbacks into Node it makes is on its CPU clock, and memory the embedder holds for it can be
// charged to it (isolate.adjustExternalMemory), counted against its memory limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ivm, isletOnly, withContext } from './support';

/** burns about `ms` of this thread's CPU */
function spin(ms: number): void {
  const start = process.cpuUsage();
  for (;;) {
    const used = process.cpuUsage(start);
    if ((used.user + used.system) / 1000 >= ms) return;
  }
}

const ms = (ns: bigint) => Number(ns) / 1e6;

test('cpuTime includes the time of a synchronous callback into Node the isolate made', isletOnly, async () => {
  await withContext((isolate, context) => {
    const before = isolate.cpuTime;
    context.evalClosureSync('$0(); $0();', [new ivm.Callback(() => spin(25))]);
    const charged = ms(isolate.cpuTime - before);
    assert.ok(charged >= 40, `two 25 ms callbacks charged ${charged.toFixed(1)} ms to the isolate`);
  });
});

test('a callback that runs past cpuTimeout ends the run with a CPU timeout', isletOnly, async () => {
  await withContext((_isolate, context) => {
    const callback = new ivm.Callback(() => spin(15));
    assert.throws(
      () => context.evalClosureSync('for (let i = 0; i < 20; i++) $0();', [callback], { cpuTimeout: 60 } as never),
      {
        code: 'ERR_ISOLATE_CPU_TIMEOUT',
      },
    );
  });
});

test(
  "another isolate entered from inside a callback is charged to itself, not to the caller's clock",
  isletOnly,
  async () => {
    await withContext(async (outer, outerContext) => {
      await withContext((inner, innerContext) => {
        const work = 'let x = 0; for (let i = 0; i < 3e7; i++) x += i % 7; x';
        const outerBefore = outer.cpuTime;
        const innerBefore = inner.cpuTime;
        outerContext.evalClosureSync('$0()', [new ivm.Callback(() => innerContext.evalSync(work))]);
        const innerCharged = ms(inner.cpuTime - innerBefore);
        const outerCharged = ms(outer.cpuTime - outerBefore);
        assert.ok(innerCharged >= 10, `the inner isolate was charged ${innerCharged.toFixed(1)} ms`);
        assert.ok(
          outerCharged < innerCharged / 3,
          `the calling isolate was charged ${outerCharged.toFixed(1)} ms of the inner's ${innerCharged.toFixed(1)} ms`,
        );
      });
    });
  },
);

test('adjustExternalMemory charges bytes to the isolate against its limit and gives them back', isletOnly, async () => {
  await withContext((isolate) => {
    assert.equal(isolate.adjustExternalMemory(12 << 20), true);
    assert.equal(isolate.adjustExternalMemory(6 << 20), false, '12 + 6 MB is past a 16 MB limit');
    assert.equal(isolate.adjustExternalMemory(-(12 << 20)), true);
    assert.equal(isolate.adjustExternalMemory(6 << 20), true, 'room again once given back');
    assert.equal(isolate.adjustExternalMemory(0), true);
  }, 16);
});

test('a charge that would pass the memory limit is refused and charges nothing', isletOnly, async () => {
  await withContext((isolate, context) => {
    context.evalSync('globalThis.keep = new ArrayBuffer(8 << 20); 1');
    assert.equal(isolate.adjustExternalMemory(10 << 20), false, '8 MB of buffers + 10 MB is past a 16 MB limit');
    assert.equal(isolate.adjustExternalMemory(6 << 20), true, 'the refused 10 MB were not kept');
    assert.equal(context.evalSync('1 + 1'), 2, 'the isolate lives on at its limit');
  }, 16);
});

test(
  'host memory and the isolate own buffers together pass the limit: the isolate is disposed for memory',
  isletOnly,
  async () => {
    await withContext((isolate, context) => {
      assert.equal(isolate.adjustExternalMemory(12 << 20), true);
      assert.throws(() => context.evalSync('globalThis.keep = new Uint8Array(8 << 20); 1'), {
        code: 'ERR_ISOLATE_MEMORY_LIMIT',
      });
      assert.equal(isolate.isDisposed, true);
      assert.equal(isolate.adjustExternalMemory(1), false, 'a disposed isolate takes no charge');
      assert.equal(isolate.adjustExternalMemory(-(12 << 20)), true, 'and a release has nothing to do');
    }, 16);
  },
);

test('adjustExternalMemory refuses what is not a whole number of bytes', isletOnly, async () => {
  await withContext((isolate) => {
    for (const bad of [1.5, Number.NaN, Infinity, '10', undefined, 2 ** 60]) {
      assert.throws(() => isolate.adjustExternalMemory(bad as number), TypeError, String(bad));
    }
  });
});

test(
  'adjustExternalMemory works from inside a callback the isolate made (its lock is held there)',
  isletOnly,
  async () => {
    await withContext((isolate, context) => {
      const answer = context.evalClosureSync('return $0()', [
        new ivm.Callback(() => isolate.adjustExternalMemory(1 << 20)),
      ]);
      assert.equal(answer, true);
      assert.equal(isolate.adjustExternalMemory(-(1 << 20)), true);
    });
  },
);

test('a charge made while the isolate is being disposed is refused, never thrown at the host', isletOnly, async () => {
  const isolate = new ivm.Isolate({ memoryLimit: 32 });
  const context = isolate.createContextSync();
  // The async run disposes its own isolate through a host callback while Node's thread waits
  // to enter the isolate for the charge: the charge meets an isolate torn down under it.
  context.global.setSync('kill', new ivm.Callback(() => isolate.dispose()));
  const run = context.eval('const t = Date.now(); while (Date.now() - t < 100); kill(); for (;;);').catch((e) => e);
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(isolate.adjustExternalMemory(1 << 20), false);
  assert.equal(isolate.adjustExternalMemory(-(1 << 20)), true);
  assert.match(String(((await run) as Error).message), /disposed/i);
});
