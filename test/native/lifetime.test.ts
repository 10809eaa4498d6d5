// An isolate's life never crashes its host (issue 14, items 2-4): compile errors, disposal
// racing with work on every path, and the addon's threads meeting worker_threads and process
// exit. Each case runs in a child process: a crash or a hang fails the test.
import { test } from 'node:test';
import { inChild } from './child';

test('compile errors throw a SyntaxError naming the file, line and column, in every form', async () => {
  await inChild(
    'compile errors',
    `(async () => {
      const isolate = new ivm.Isolate();
      const where = (e) => e instanceof SyntaxError && /\\[<isolated-vm>:1:1\\]/.test(e.message);
      assert.throws(() => isolate.compileScriptSync('}'), where);
      assert.throws(() => isolate.compileScriptSync('**', { filename: 'file:///a.js' }), /file:\\/\\/\\/a\\.js:1:1/);
      const named = (e) => e instanceof SyntaxError && /m\\.js/.test(e.message);
      assert.throws(() => isolate.compileModuleSync('export let let = 1', { filename: 'file:///m.js' }), named);
      await assert.rejects(isolate.compileScript('let let = 1'), SyntaxError);
      await assert.rejects(isolate.compileModule('export default ;'), SyntaxError);
      assert.equal(isolate.compileScriptSync('1 + 1').runSync(isolate.createContextSync()), 2);
      console.log('ok');
    })();`,
  );
});

test('disposing an isolate races safely with queued, running and just-scheduled work', async () => {
  await inChild(
    'dispose races',
    `(async () => {
      for (let n = 0; n < 100; n++) {
        const isolate = new ivm.Isolate();
        const pending = [isolate.createContext().then(() => 'context', (e) => e.message)];
        const context = isolate.createContextSync();
        for (let k = 0; k < 5; k++) {
          pending.push(context.eval(k % 2 ? 'for(;;){}' : '1').then(String, (e) => e.message));
        }
        if (n % 3 === 0) isolate.dispose();
        else setTimeout(() => isolate.dispose(), n % 5);
        const expected = /^(context|1|Isolate is disposed|Isolate was disposed during execution)$/;
        for (const outcome of await Promise.all(pending)) assert.match(outcome, expected);
      }
      console.log('ok');
    })();`,
  );
});

test('work queued before dispose() that runs no code still completes; work that runs code is rejected', async () => {
  await inChild(
    'queued work at dispose',
    `(async () => {
      const isolate = new ivm.Isolate();
      const context = isolate.createContextSync();
      const made = isolate.createContext();
      const ran = context.eval('1 + 1');
      isolate.dispose();
      assert.ok(await made, 'createContext queued before dispose resolves');
      await assert.rejects(ran, (e) => e.code === 'ERR_ISOLATE_DISPOSED');
      await assert.rejects(isolate.createContext(), /Isolate is disposed/);
      assert.throws(() => isolate.dispose(), /already disposed/);
      console.log('ok');
    })();`,
  );
});

test('an isolate disposing itself, from its own code or a host callback, sync or async', async () => {
  await inChild(
    'self disposal',
    `(async () => {
      const a = new ivm.Isolate();
      const ca = a.createContextSync();
      ca.global.setSync('isolate', a);
      assert.throws(() => ca.evalSync('isolate.dispose(); for(;;){}'), /disposed/);
      assert.throws(() => ca.evalSync('1'), /disposed/);
      const c = new ivm.Isolate();
      const cc = c.createContextSync();
      cc.global.setSync('killer', () => c.dispose());
      await assert.rejects(cc.eval('killer(); for(;;){}'), /disposed/);
      // last: the process ends while the pool thread is still in the isolate that disposes itself
      const b = new ivm.Isolate();
      const cb = b.createContextSync();
      await cb.global.set('isolate', b);
      cb.evalIgnored('const end = Date.now() + 200; while (Date.now() < end); isolate.dispose()');
      await new Promise((resolve) => setTimeout(resolve, 60));
      assert.match(await b.createContext().then(() => 'made', (e) => e.message), /^(made|Isolate is disposed)$/);
      assert.ok(b.isDisposed);
      console.log('ok');
    })();`,
  );
});

test('isolate B awaiting apply() into A while the host disposes A gets a rejection', async () => {
  await inChild(
    'cross-isolate dispose',
    `(async () => {
      for (let n = 0; n < 30; n++) {
        const a = new ivm.Isolate();
        const b = new ivm.Isolate();
        const code = '(x) => { const end = Date.now() + 5; while (Date.now() < end); return x }';
        const slow = a.createContextSync().evalSync(code, { reference: true });
        const cb = b.createContextSync();
        cb.global.setSync('slow', slow);
        const calls = 'Promise.all(Array.from({ length: 20 }, (_, k) => slow.apply(undefined, [k])))';
        const outcome = cb.eval(calls + '.then(() => "done", (e) => e.message)', { promise: true });
        setTimeout(() => a.dispose(), n % 7);
        assert.match(await outcome, /^(done|Isolate is disposed|Isolate was disposed during execution)$/);
        b.dispose();
      }
      console.log('ok');
    })();`,
  );
});

test('the addon loaded only in a worker_thread survives the worker ending or being terminated mid-run', async () => {
  await inChild(
    'worker threads',
    `const { Worker } = require('node:worker_threads');
    const loadOnly = () => new Promise((resolve, reject) => {
      const w = new Worker('require(process.env.ISLET_NATIVE_MODULE)', { eval: true });
      w.on('error', reject);
      w.on('exit', resolve);
    });
    const worker = (exitHow) => new Promise((resolve, reject) => {
      const w = new Worker(
        'const ivm = require(process.env.ISLET_NATIVE_MODULE); const { parentPort } = require("node:worker_threads");' +
        'const isolate = new ivm.Isolate(); const context = isolate.createContextSync();' +
        'context.global.setSync("host", (x) => x + 1);' +
        'context.eval("let s = 0; for (;;) s = host(s)").catch(() => {});' +
        (exitHow === 'exit' ? 'setTimeout(() => process.exit(0), 20);' : 'parentPort.postMessage("running");'),
        { eval: true });
      w.on('error', reject);
      w.on('message', () => setTimeout(() => w.terminate(), 10));
      w.on('exit', resolve);
    });
    (async () => {
      for (let n = 0; n < 3; n++) await loadOnly();
      for (let n = 0; n < 4; n++) await worker(n % 2 ? 'exit' : 'terminate');
      console.log('ok');
    })();`,
    { loadAddon: false },
  );
});

test('the process exits cleanly while pool threads run isolates or tear them down', async () => {
  for (const when of [0, 2, 4, 6, 15]) {
    await inChild(
      `exit after ${when} ms`,
      `const isolates = Array.from({ length: 20 }, () => new ivm.Isolate());
      for (const isolate of isolates) {
        const context = isolate.createContextSync();
        const other = isolate.createContextSync();
        context.global.setSync('isolate', isolate);
        context.evalIgnored('const end = Date.now() + 5; while (Date.now() < end); isolate.dispose()');
        other.eval('for(;;){}').catch(() => {});
      }
      setTimeout(() => { console.log('ok'); process.exit(0); }, ${when});`,
    );
  }
});

test('a run cut by its timeout leaves no promise jobs behind to run, without a limit, at a later call', async () => {
  await inChild(
    'microtasks after a timeout',
    `(async () => {
      const context = new ivm.Isolate().createContextSync();
      const spin = 'function bad() { Promise.resolve().then(() => { bad(); for (;;); }) } bad(); for (;;);';
      assert.throws(() => context.evalSync(spin, { timeout: 30 }), /timed out/);
      assert.equal(context.evalSync('1 + 1'), 2);
      await assert.rejects(context.eval(spin, { timeout: 30 }), /timed out/);
      assert.equal(await context.eval('2 + 2'), 4);
      console.log('ok');
    })();`,
  );
});
