// Property-based crash hunting (test/native/fuzz): random sequences of API calls with random
// arguments, disposals and garbage collections at random points, run in a child process for a
// bounded time (ISLET_FUZZ_MS, default 12 s; `npm run fuzz:native` runs it for longer). A crash
// or a hang of the child fails the test with the seed that replays it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { nativeModule } from './child';

const budgetMs = Number(process.env.ISLET_FUZZ_MS ?? 12_000);
const program = path.join(__dirname, 'fuzz', 'program.js');

test('random API calls, disposals and GCs never crash, hang, leak bytes or leave a promise pending', async () => {
  const seed = Number(process.env.ISLET_FUZZ_SEED ?? Date.now() % 2 ** 31);
  const args = ['--no-node-snapshot', '--expose-gc', program, '--seed', String(seed), '--ms', String(budgetMs)];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ISLET_NATIVE_MODULE: nativeModule },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    child.kill('SIGKILL');
  }, budgetMs + 60_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('exit', (c, s) => resolve([c, s])),
  );
  clearTimeout(timer);
  const replay = `replay: node --no-node-snapshot --expose-gc ${path.relative(process.cwd(), program)} --seed ${seed}`;
  const tail = `\n${replay}\n--- stdout ---\n${stdout.slice(-2000)}\n--- stderr ---\n${stderr.slice(-6000)}`;
  assert.ok(!hung, `the fuzzer hung${tail}`);
  assert.equal(signal, null, `the fuzzer crashed with ${signal}${tail}`);
  assert.equal(code, 0, `a property failed${tail}`);
  assert.match(stdout, /^ok \d+ runs$/m, tail);
});
