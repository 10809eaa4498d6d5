// Host work a sandbox's requests ask for (WebCrypto, compression), run on the process-wide pools
// of ./work-pool.ts under the tenant's name and charged to the request that asked. The CPU a job
// used (./pool-meter.ts) counts as the request's CPU, in the milliseconds its cpuMs limit uses,
// and is charged as the job runs: a timer set to what the request has left fires while a long
// job still runs, and the request is then cut like any other over its budget (503, islet-error:
// cpu); what remains is charged when the job ends. A request that ends, answered or cut, cancels the jobs it still has queued or
// running (./run.ts RunResources); work for top-level code (no request) is cancelled with the
// sandbox.
import type { LimitExceededError } from '../errors';
import { poolMeter, type JobMeter } from './pool-meter';
import type { Caller, RequestRun, RunResources } from './run';
import type { RequestLimits } from './types';
import type { PoolJob, WorkPool } from './work-pool';

/** a job expected to cost less than this (ms of CPU) may use a pool's express slot */
export const CHEAP_MS = 1;

export interface HostWorkParts {
  /** whose share of the pools the jobs take */
  tenant: string;
  /** the budgets of work done outside any request (top-level code) */
  defaults: RequestLimits;
  /** a request went over its CPU budget */
  cut(run: RequestRun, error: LimitExceededError): void;
}

export class HostWork implements RunResources {
  readonly #parts: HostWorkParts;
  /** jobs of top-level code (requests keep theirs in run.work) */
  readonly #orphans = new Set<PoolJob<unknown>>();

  constructor(parts: HostWorkParts) {
    this.#parts = parts;
  }

  /** the CPU ms `caller` has left for host work */
  budgetMs(caller: Caller): number {
    return caller ? caller.remainingCpuMs() : this.#parts.defaults.cpuMs;
  }

  /**
   * runs `work` on `pool` for `caller`, charged to it; `expectedMs` is the CPU it should take (a
   * cheap job may use an express slot). The promise rejects with HostWorkCancelledError when the
   * request ended before the work started.
   */
  run<T>(pool: WorkPool, caller: Caller, work: (signal: AbortSignal) => Promise<T>, expectedMs: number): Promise<T> {
    const owned: Set<PoolJob<unknown>> = caller ? caller.work : this.#orphans;
    let meter: JobMeter | null = null;
    let charged = 0;
    let timer: NodeJS.Timeout | undefined;
    const charge = () => {
      if (!caller || caller.finished || meter === null) return;
      const ms = Math.max(0, poolMeter.cpuMs(meter) - charged);
      charged += ms;
      caller.cpuNs += BigInt(Math.round(ms * 1e6));
      if (caller.cpuMs() > caller.limits.cpuMs) this.#parts.cut(caller, caller.limitError('cpu', caller.cpuMs()));
    };
    // wakes up when the request's budget would run out with this job still running (a cheap job
    // is short: what it used is charged when it ends)
    const arm = () => {
      if (!caller || caller.finished || expectedMs < CHEAP_MS) return;
      timer = setTimeout(
        () => {
          poolMeter.sample();
          charge();
          arm();
        },
        Math.max(1, Math.ceil(caller.remainingCpuMs())),
      );
    };
    const job: PoolJob<T> = pool.submit(this.#parts.tenant, work, {
      cheap: expectedMs < CHEAP_MS,
      onStart: () => {
        meter = poolMeter.start(expectedMs);
        arm();
      },
      onEnd: () => {
        clearTimeout(timer);
        owned.delete(job as PoolJob<unknown>);
        if (meter) poolMeter.end(meter);
        charge();
      },
    });
    if (job.state !== 'done') owned.add(job as PoolJob<unknown>);
    return job.result;
  }

  releaseRun(run: RequestRun): void {
    cancelAll(run.work);
  }

  dispose(): void {
    cancelAll(this.#orphans);
  }
}

function cancelAll(jobs: Set<PoolJob<unknown>>): void {
  const list = [...jobs];
  jobs.clear();
  for (const job of list) job.cancel();
}
