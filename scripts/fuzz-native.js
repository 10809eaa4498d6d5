#!/usr/bin/env node
// `npm run fuzz:native [-- --duration <s>] [--seed <n>] [--asan]`: runs the native fuzzer
// (test/native/fuzz) for longer than the test suite does: one child process after another, each
// with a fresh seed, for `duration` seconds (default 300). A crash, a hang or a failed property
// is reported with the seed that replays it (`--seed <n>` runs that seed alone). --asan runs on
// the AddressSanitizer build (`npm run build:native:asan` makes it).
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const program = path.join(root, 'dist', 'test', 'native', 'fuzz', 'program.js');
const option = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : fallback;
};
const durationMs = Number(option('duration', 300)) * 1000;
const fixedSeed = option('seed', undefined);
const asan = process.argv.includes('--asan');
if (!fs.existsSync(program)) {
  console.error(`${path.relative(root, program)} is missing: run \`npm run build\` first`);
  process.exit(1);
}

const env = { ...process.env };
if (asan) {
  const addon = path.join(root, 'native', 'build-asan', 'build', 'Release', 'islet.node');
  if (!fs.existsSync(addon)) {
    console.error('no AddressSanitizer build: run `npm run build:native:asan` first');
    process.exit(1);
  }
  const runtime = fs.realpathSync(execFileSync('gcc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).trim());
  Object.assign(env, { ISLET_ADDON: addon, LD_PRELOAD: runtime, ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1' });
}

function runOne(seed, ms) {
  return new Promise((resolve) => {
    const args = ['--no-node-snapshot', '--expose-gc', program, '--seed', String(seed), '--ms', String(ms)];
    const child = spawn(process.execPath, args, {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, ms + 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, hung, out, err });
    });
  });
}

(async () => {
  const started = Date.now();
  let failures = 0;
  let children = 0;
  let runs = 0;
  do {
    const seed = fixedSeed !== undefined ? Number(fixedSeed) : Math.floor(Math.random() * 2 ** 31);
    const ms = Math.max(5_000, Math.min(30_000, durationMs - (Date.now() - started)));
    const result = await runOne(seed, ms);
    children++;
    const done = /^ok (\d+) runs$/m.exec(result.out);
    if (done) runs += Number(done[1]);
    if (result.hung || result.signal || result.code !== 0 || !done) {
      failures++;
      const what = result.hung ? 'HUNG' : result.signal ? `CRASHED (${result.signal})` : `FAILED (exit ${result.code})`;
      const replay = `npm run fuzz:native -- --seed ${seed}${asan ? ' --asan' : ''}`;
      // fast-check's reason ("Got error: ...") comes after the counterexample: show both ends.
      const err =
        result.err.length > 6000 ? `${result.err.slice(0, 1500)}\n[...]\n${result.err.slice(-4500)}` : result.err;
      console.log(`\nseed ${seed}: ${what}\nreplay: ${replay}\n${err}`);
    } else {
      process.stdout.write(`seed ${seed}: ${done[1]} runs ok\n`);
    }
  } while (fixedSeed === undefined && Date.now() - started < durationMs);
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  console.log(`\nfuzz:native: ${children} processes, ${runs} runs, ${failures} failing in ${seconds} s`);
  process.exit(failures ? 1 : 0);
})();
