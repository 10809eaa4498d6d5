// The addon's stuck-run watch (islet extension): a process that can afford to be lost (a worker
// under a supervisor) turns it on, and an isolate that was asked to stop (it reached its heap
// limit, or a time limit fired) but sits in a builtin that never checks for termination ends the
// process: one line on stderr names the isolate by its label, then SIGKILL, instead of holding
// the thread for many seconds (V8 then aborts the process anyway). An isolate that stops when
// asked (the usual case) is cut as before and the process lives on. Each case runs in a child
// process, since the process is what ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { isletOnly } from './support';

const addon = path.resolve(__dirname, '../../native/index.js');

function run(body: string) {
  const script = `const n = require(${JSON.stringify(addon)});\n${body}`;
  return spawnSync(process.execPath, ['--no-node-snapshot', '-e', script], { encoding: 'utf8', timeout: 120_000 });
}

const line = (label: string, why: string) =>
  new RegExp(`^islet: isolate "${label}" made no progress for \\d+ ms after ${why}: ending the process$`, 'm');

test('an isolate stuck near its heap limit ends its process, named on stderr', isletOnly, () => {
  const child = run(`
    n.watchStuckIsolates(500);
    const isolate = new n.Isolate({ memoryLimit: 64, label: 'tenant:stuck' });
    isolate.createContextSync().evalSync('new Array(3e8).fill(0); 1', { timeout: 120000 });
    console.log('survived');
  `);
  assert.equal(child.signal, 'SIGKILL', `status ${child.status}, stderr: ${child.stderr.slice(-2000)}`);
  assert.doesNotMatch(child.stdout, /survived/);
  assert.match(child.stderr, line('tenant:stuck', 'reaching its heap limit \\(64 MB, heap \\d+ MB\\)'));
  assert.doesNotMatch(child.stderr, /Fatal error|FATAL ERROR/, 'V8 did not get to abort first');
});

test('an isolate that does not stop at its CPU limit ends its process, named on stderr', isletOnly, () => {
  const child = run(`
    n.watchStuckIsolates(500);
    const isolate = new n.Isolate({ memoryLimit: 1024, label: 'tenant:busy' });
    isolate.createContextSync().evalSync('new Array(3e8).fill(0); 1', { cpuTimeout: 50, timeout: 120000 });
    console.log('survived');
  `);
  assert.equal(child.signal, 'SIGKILL', `status ${child.status}, stderr: ${child.stderr.slice(-2000)}`);
  assert.match(child.stderr, line('tenant:busy', 'its time limit'));
});

test('isolates that stop when asked (heap limit, time limit) are cut, and the process lives on', isletOnly, () => {
  const child = run(`
    n.watchStuckIsolates(500);
    const codes = [];
    const heavy = new n.Isolate({ memoryLimit: 32, label: 'tenant:heavy' }).createContextSync();
    try { heavy.evalSync('const a = []; for (;;) a.push({ n: a.length, s: "x".repeat(20) });', { timeout: 60000 }); }
    catch (error) { codes.push(error.code); }
    const spin = new n.Isolate({ memoryLimit: 32, label: 'tenant:spin' }).createContextSync();
    try { spin.evalSync('for (;;) {}', { cpuTimeout: 20 }); } catch (error) { codes.push(error.code); }
    const answer = new n.Isolate({ label: 'tenant:next' }).createContextSync().evalSync('6 * 7');
    setTimeout(() => console.log(codes.join(' '), answer), 800);
  `);
  assert.equal(child.status, 0, child.stderr.slice(-2000));
  assert.equal(child.stdout.trim(), 'ERR_ISOLATE_MEMORY_LIMIT ERR_ISOLATE_CPU_TIMEOUT 42');
  assert.doesNotMatch(child.stderr, /made no progress/);
});

test('the watch refuses a bad value, and a label must be a string', isletOnly, () => {
  const child = run(`
    try { n.watchStuckIsolates(-1); } catch (error) { console.log(error.constructor.name); }
    try { n.watchStuckIsolates('1s'); } catch (error) { console.log(error.constructor.name); }
    try { new n.Isolate({ label: 42 }); } catch (error) { console.log(error.constructor.name); }
  `);
  assert.equal(child.status, 0, child.stderr);
  assert.deepEqual(child.stdout.trim().split('\n'), ['RangeError', 'TypeError', 'TypeError']);
});
