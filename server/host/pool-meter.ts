// The CPU a job on libuv's thread pool used, as closely as Node lets us tell. libuv's threads
// have no clock we can read, and a job's wall time is a poor stand-in on a busy machine (a job
// waiting for a core would be charged the wait). So the meter reads the CPU every thread of the
// process but Node's main one used (the process's CPU, less the main thread's: the addon's
// threadCpuTime(), or /proc/self/task/<pid>/schedstat without it) at every start and end of a
// job, and shares what was used since the last reading among the jobs running meanwhile, in
// proportion to what each was expected to cost. A job's CPU is then at most that share and at most its wall time: an upper
// bound either way, which over-charges only the part of the pool's work it cannot tell apart
// (V8's background threads, the store's file reads) and never charges a job for waiting. Where
// the main thread's clock cannot be read (no procfs), a job is charged its wall time.
import fs from 'node:fs';
import { threadCpuClock } from './isolate-api';

/** one job's reading */
export interface JobMeter {
  readonly weight: number;
  readonly startedAt: number;
  /** CPU shared to it so far, ms */
  shared: number;
}

let mainClock: { fd: number; buffer: Buffer } | null | undefined;
let nativeClock: (() => bigint) | null | undefined;

/** ms of CPU Node's main thread used, or null when it cannot be read (the meter runs on it) */
function mainThreadCpuMs(): number | null {
  nativeClock ??= threadCpuClock();
  if (nativeClock) return Number(nativeClock()) / 1e6;
  if (mainClock === undefined) {
    try {
      mainClock = { fd: fs.openSync(`/proc/self/task/${process.pid}/schedstat`, 'r'), buffer: Buffer.alloc(96) };
    } catch {
      mainClock = null;
    }
  }
  if (mainClock === null) return null;
  try {
    const n = fs.readSync(mainClock.fd, mainClock.buffer, 0, mainClock.buffer.length, 0);
    const ns = Number.parseInt(mainClock.buffer.toString('latin1', 0, n), 10);
    return Number.isFinite(ns) ? ns / 1e6 : null;
  } catch {
    return null;
  }
}

/** ms of CPU every thread but the main one used, or null when unknown */
function otherThreadsCpuMs(): number | null {
  const main = mainThreadCpuMs();
  if (main === null) return null;
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000 - main;
}

export class PoolMeter {
  readonly #running = new Set<JobMeter>();
  #last: number | null = null;

  /** shares the CPU used since the last reading among the running jobs */
  sample(): void {
    const now = otherThreadsCpuMs();
    if (now === null) return;
    const used = this.#last === null ? 0 : Math.max(0, now - this.#last);
    this.#last = now;
    if (used === 0 || this.#running.size === 0) return;
    let total = 0;
    for (const job of this.#running) total += job.weight;
    for (const job of this.#running) job.shared += (used * job.weight) / total;
  }

  /** a job got its slot; `expectedMs`: what it should cost (its weight in the sharing) */
  start(expectedMs: number): JobMeter {
    this.sample();
    const job: JobMeter = { weight: Math.max(0.05, expectedMs), startedAt: performance.now(), shared: 0 };
    this.#running.add(job);
    return job;
  }

  /** the job's work stopped */
  end(job: JobMeter): void {
    this.sample();
    this.#running.delete(job);
  }

  /** the CPU to charge `job` so far, ms */
  cpuMs(job: JobMeter): number {
    const wall = performance.now() - job.startedAt;
    return this.#last === null ? wall : Math.min(wall, job.shared);
  }
}

/** one meter for every pool of the process: they share libuv's threads */
export const poolMeter = new PoolMeter();
