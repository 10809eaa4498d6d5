// Machine stalls: a stop of the whole machine must not be charged to a tenant as CPU, and CPU
// contention inside the machine must not be mistaken for a stop. A real VM stop cannot be made
// on demand; SIGSTOP/SIGCONT of a process is the nearest real thing (the watchdog sleeps
// through it and wakes late without having waited for a CPU), with one difference: a stopped
// thread is charged no CPU, so nothing may be credited for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ivm, isletOnly, withContext } from './support';

type Ledger = ivm.MachineStalls;
const nativeModule = path.resolve(__dirname, '../../native');

/** CPU time of the calling thread in ns, from the kernel's scheduler statistics. */
function threadCpuNs(): number {
  return Number(fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout!.setEncoding('utf8');
    const onData = (chunk: string) => {
      text += chunk;
      const end = text.indexOf('\n');
      if (end >= 0) {
        child.stdout!.off('data', onData);
        resolve(text.slice(0, end));
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before writing a line; had: ${text}`)));
  });
}

test(
  'machineStalls() reads the process ledger: counters that start at zero or more and never go back',
  isletOnly,
  async () => {
    const first = ivm.machineStalls();
    assert.equal(typeof first.detecting, 'boolean');
    for (const key of ['count', 'totalNs', 'creditedNs'] as const) {
      assert.ok(Number.isInteger(first[key]) && first[key] >= 0, `${key} = ${first[key]}`);
    }
    await withContext((_isolate, context) => {
      assert.throws(() => context.evalSync('for (;;) {}', { cpuTimeout: 20 } as never), {
        code: 'ERR_ISOLATE_CPU_TIMEOUT',
      });
    });
    const second = ivm.machineStalls();
    assert.ok(second.count >= first.count && second.totalNs >= first.totalNs && second.creditedNs >= first.creditedNs);
    assert.equal(second.count === first.count, second.totalNs === first.totalNs, 'every stop counted has a length');
  },
);

test(
  'a stop of the whole process during a run is recorded in the ledger, credits nothing, and the run is still cut at its CPU limit',
  isletOnly,
  async (t) => {
    if (!ivm.machineStalls().detecting) return t.skip('no /proc/thread-self/schedstat on this kernel');
    const limitMs = 600;
    const stopMs = 150;
    const code = `
    const fs = require('node:fs');
    const ivm = require(${JSON.stringify(nativeModule)});
    const cpu = () => Number(fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
    const isolate = new ivm.Isolate({ memoryLimit: 16 });
    const context = isolate.createContextSync();
    const before = ivm.machineStalls(), charged0 = isolate.cpuTime, cpu0 = cpu();
    process.stdout.write('running\\n');
    let code;
    try { context.evalSync('for (;;) {}', { cpuTimeout: ${limitMs}, timeout: 20000 }); } catch (error) { code = error.code; }
    const after = ivm.machineStalls();
    process.stdout.write(JSON.stringify({ code, chargedMs: Number(isolate.cpuTime - charged0) / 1e6, usedMs: (cpu() - cpu0) / 1e6, before, after }) + '\\n');
  `;
    const child = spawn(process.execPath, ['--no-node-snapshot', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      assert.equal(await firstLine(child), 'running');
      const result = firstLine(child);
      await new Promise((resolve) => setTimeout(resolve, 50));
      child.kill('SIGSTOP');
      await new Promise((resolve) => setTimeout(resolve, stopMs));
      child.kill('SIGCONT');
      const {
        code: errorCode,
        chargedMs,
        usedMs,
        before,
        after,
      } = JSON.parse(await result) as {
        code: string;
        chargedMs: number;
        usedMs: number;
        before: Ledger;
        after: Ledger;
      };
      assert.equal(errorCode, 'ERR_ISOLATE_CPU_TIMEOUT');
      assert.ok(after.count > before.count, `the stop was not seen: ${JSON.stringify({ before, after })}`);
      assert.ok(
        after.totalNs - before.totalNs >= (stopMs - 50) * 1e6,
        `stop of ${stopMs} ms recorded as ${(after.totalNs - before.totalNs) / 1e6} ms`,
      );
      // The stopped thread used no CPU during the stop, so no part of it may be given back.
      assert.ok(
        after.creditedNs - before.creditedNs < 1e6,
        `credited ${(after.creditedNs - before.creditedNs) / 1e6} ms for a stop that charged nothing`,
      );
      assert.ok(
        chargedMs >= limitMs && usedMs >= chargedMs,
        `cut after ${chargedMs} ms of CPU (${usedMs} ms used), limit ${limitMs}`,
      );
    } finally {
      child.kill('SIGKILL');
    }
  },
);

test(
  'CPU contention is not a stall: with every core saturated, CPU limits cut at the limit and nothing is credited',
  isletOnly,
  async (t) => {
    if (!ivm.machineStalls().detecting) return t.skip('no /proc/thread-self/schedstat on this kernel');
    // One more spinner than there are CPUs (3 on the 2-core machine this was written on).
    const spinners = Array.from({ length: os.availableParallelism() + 1 }, () =>
      spawn(process.execPath, ['-e', 'process.stdout.write("spinning\\n"); for (;;);'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    try {
      for (const spinner of spinners) assert.equal(await firstLine(spinner), 'spinning');
      const limitMs = 100;
      const runs: { chargedMs: number; usedMs: number; wallMs: number; stalls: number; creditedMs: number }[] = [];
      await withContext((isolate, context) => {
        for (let i = 0; i < 3; i++) {
          const before = ivm.machineStalls();
          const charged0 = isolate.cpuTime;
          const used0 = threadCpuNs();
          const wall0 = process.hrtime.bigint();
          assert.throws(() => context.evalSync('for (;;) {}', { cpuTimeout: limitMs, timeout: 20000 } as never), {
            code: 'ERR_ISOLATE_CPU_TIMEOUT',
          });
          const after = ivm.machineStalls();
          runs.push({
            chargedMs: Number(isolate.cpuTime - charged0) / 1e6,
            usedMs: (threadCpuNs() - used0) / 1e6,
            wallMs: Number(process.hrtime.bigint() - wall0) / 1e6,
            stalls: after.count - before.count,
            creditedMs: (after.creditedNs - before.creditedNs) / 1e6,
          });
        }
      });
      const detail = JSON.stringify(runs);
      const contended = runs.filter((run) => run.wallMs > run.usedMs * 1.3);
      assert.ok(contended.length >= 2, `the spinners did not take CPU from the runs: ${detail}`);
      for (const run of runs) assert.ok(run.chargedMs >= limitMs, `a run was charged less than its limit: ${detail}`);
      // A genuine stop of the machine may land in one run; waiting for a CPU must never count.
      const clean = runs.filter((run) => run.stalls === 0 && run.creditedMs === 0);
      assert.ok(clean.length >= 2, `contention was taken for machine stalls: ${detail}`);
    } finally {
      for (const spinner of spinners) spinner.kill('SIGKILL');
    }
  },
);
