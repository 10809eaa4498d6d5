// A fixed CPU hog for `bench:peers --contention`: `threads` processes that each spin forever at
// normal priority, so the system under test shares the cores with work that always wants to run
// (as on a busy production machine). The hog's CPU time is read from /proc, so the report can say
// how much of the machine it actually got beside each system: a system that loses less
// throughput to the hog took its CPU back from it.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

/** the hog's loop: arithmetic on a local, nothing allocated, no system calls */
const SPIN = 'let x = 0; for (;;) { x = (x * 1103515245 + 12345) | 0; }';

export interface Hog {
  threads: number;
  /** CPU seconds (user + system) the hog processes used so far */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

const ticksPerSecond = 100; // USER_HZ: 100 on every Linux this runs on

function processCpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name (which may hold spaces) start after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond; // utime, stime
  } catch {
    return 0; // not Linux, or the process is gone
  }
}

export function startHog(threads: number): Hog {
  if (!Number.isInteger(threads) || threads < 1 || threads > 256)
    throw new RangeError(`bench:peers: the CPU hog needs 1 to 256 threads (got ${threads})`);
  const children: ChildProcess[] = [];
  for (let i = 0; i < threads; i++) {
    children.push(spawn(process.execPath, ['-e', SPIN], { stdio: 'ignore' }));
  }
  return {
    threads,
    cpuSeconds: () => children.reduce((sum, child) => sum + (child.pid ? processCpuSeconds(child.pid) : 0), 0),
    async stop() {
      await Promise.all(
        children.map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              child.once('exit', () => resolve());
              child.kill('SIGKILL');
            }),
        ),
      );
    },
  };
}

/** the default hog: half the cores (one on a 2-core machine), so both the hog and the system get some */
export function defaultHogThreads(): number {
  return Math.max(1, Math.floor(os.availableParallelism() / 2));
}
