// A process-wide pool of slots for one kind of host work done for tenants (WebCrypto, zlib, DNS
// lookups), fair between tenants. Both kinds run on libuv's thread pool, which the store's file reads and DNS
// share, so only a few of them may run at once whatever tenants do; and since the slots are
// shared by every tenant of the process, none may take them all:
//
// - each tenant has its own queue, and a free slot goes to the tenant served longest ago (one
//   that was idle comes first): a neighbour's job waits for at most the jobs already running,
//   never behind a flood;
// - a tenant runs at most `perTenant` jobs at once (its share), so the other slots stay free for
//   the others;
// - `expressSlots` more slots take only cheap jobs (an 11-byte gzip, a digest of a few bytes), so
//   small work is served at once even while every ordinary slot holds a long job;
// - a job is cancelled when its owner no longer wants it (its request ended): a queued one leaves
//   the queue at once; a running one is told through its AbortSignal and keeps its slot until its
//   work has really stopped (work on a libuv thread cannot always be interrupted: callers bound
//   what they admit instead).
import { HostWorkCancelledError } from '../errors';

export interface PoolOptions {
  /** ordinary slots */
  slots: number;
  /** further slots only cheap jobs may use */
  expressSlots: number;
  /** jobs one tenant may run at once, across both kinds of slot */
  perTenant: number;
  /** jobs one tenant may have waiting; past it a submission fails at once */
  maxQueued: number;
}

export interface JobOptions {
  /** small enough for an express slot */
  cheap?: boolean;
  /** called when the job gets its slot */
  onStart?(): void;
  /** called once its work has stopped (done, failed or cancelled), after the slot was given back */
  onEnd?(): void;
}

export type JobState = 'queued' | 'running' | 'done';

export interface PoolJob<T> {
  readonly result: Promise<T>;
  readonly state: JobState;
  /** a queued job is dropped (its result rejects with `reason`); a running one is told to stop */
  cancel(reason?: Error): void;
}

class Job<T> implements PoolJob<T> {
  state: JobState = 'queued';
  express = false;
  readonly controller = new AbortController();
  readonly result: Promise<T>;
  resolve!: (value: T) => void;
  reject!: (error: unknown) => void;

  constructor(
    readonly pool: WorkPool,
    readonly tenant: string,
    readonly work: (signal: AbortSignal) => Promise<T>,
    readonly options: JobOptions,
  ) {
    this.result = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // a caller that stops listening must not leave an unhandled rejection behind
    this.result.catch(() => {});
  }

  cancel(reason: Error = new HostWorkCancelledError()): void {
    if (this.state === 'queued') this.pool.dropQueued(this as unknown as Job<unknown>, reason);
    else if (this.state === 'running' && !this.controller.signal.aborted) this.controller.abort(reason);
  }
}

interface TenantQueue {
  jobs: Job<unknown>[];
  running: number;
  /** when it last got a slot (the pool's count of jobs started then) */
  lastServed: number;
}

export interface PoolStats {
  running: number;
  queued: number;
  /** running and queued jobs per tenant with any */
  tenants: Record<string, { running: number; queued: number }>;
}

export class WorkPool {
  readonly #options: PoolOptions;
  readonly #tenants = new Map<string, TenantQueue>();
  /** jobs started so far */
  #served = 0;
  #ordinary = 0;
  #express = 0;

  constructor(
    readonly name: string,
    options: PoolOptions,
  ) {
    this.#options = options;
  }

  /** queues `work` for `tenant`; it runs when the tenant's turn and a slot come */
  submit<T>(tenant: string, work: (signal: AbortSignal) => Promise<T>, options: JobOptions = {}): PoolJob<T> {
    const job = new Job(this, tenant, work, options);
    let queue = this.#tenants.get(tenant);
    if (!queue) this.#tenants.set(tenant, (queue = { jobs: [], running: 0, lastServed: 0 }));
    if (queue.jobs.length >= this.#options.maxQueued) {
      job.state = 'done';
      job.reject(
        new RangeError(`${this.name}: more than ${this.#options.maxQueued} operations waiting for this tenant`),
      );
      return job;
    }
    queue.jobs.push(job as Job<unknown>);
    this.#pump();
    return job;
  }

  stats(): PoolStats {
    const stats: PoolStats = { running: this.#ordinary + this.#express, queued: 0, tenants: {} };
    for (const [tenant, queue] of this.#tenants) {
      stats.queued += queue.jobs.length;
      stats.tenants[tenant] = { running: queue.running, queued: queue.jobs.length };
    }
    return stats;
  }

  /** removes a queued job (its owner cancelled it) */
  dropQueued(job: Job<unknown>, reason: Error): void {
    const queue = this.#tenants.get(job.tenant);
    const at = queue ? queue.jobs.indexOf(job) : -1;
    if (!queue || at < 0) return;
    queue.jobs.splice(at, 1);
    this.#forgetIfIdle(job.tenant, queue);
    job.state = 'done';
    job.reject(reason);
  }

  /** starts every job that may start now, each free slot going to the tenant served longest ago */
  #pump(): void {
    for (;;) {
      let next: { queue: TenantQueue; slot: 'express' | 'ordinary' } | null = null;
      for (const queue of this.#tenants.values()) {
        if (queue.jobs.length === 0 || queue.running >= this.#options.perTenant) continue;
        if (next && next.queue.lastServed <= queue.lastServed) continue;
        const slot = this.#freeSlot(queue.jobs[0]);
        if (slot) next = { queue, slot };
      }
      if (!next) return;
      const job = next.queue.jobs.shift()!;
      next.queue.lastServed = ++this.#served;
      this.#start(job, next.queue, next.slot === 'express');
    }
  }

  #freeSlot(job: Job<unknown>): 'express' | 'ordinary' | null {
    // a cheap job takes an express slot first, leaving the ordinary ones to long work
    if (job.options.cheap && this.#express < this.#options.expressSlots) return 'express';
    if (this.#ordinary < this.#options.slots) return 'ordinary';
    return null;
  }

  #start(job: Job<unknown>, queue: TenantQueue, express: boolean): void {
    job.state = 'running';
    job.express = express;
    queue.running++;
    if (express) this.#express++;
    else this.#ordinary++;
    try {
      job.options.onStart?.();
    } catch {
      // a hook's failure is its owner's business; the slot must still come back
    }
    let work: Promise<unknown>;
    try {
      work = job.work(job.controller.signal);
    } catch (error) {
      work = Promise.reject(error);
    }
    work.then(
      (value) => this.#end(job, queue, () => job.resolve(value)),
      (error) => this.#end(job, queue, () => job.reject(error)),
    );
  }

  #end(job: Job<unknown>, queue: TenantQueue, settle: () => void): void {
    job.state = 'done';
    queue.running--;
    if (job.express) this.#express--;
    else this.#ordinary--;
    this.#forgetIfIdle(job.tenant, queue);
    try {
      job.options.onEnd?.();
    } catch {
      // as in #start
    }
    // the outcome goes out from the event loop, never from the microtask that finished the work:
    // work that completes at once (many WebCrypto calls do) would otherwise let one tenant chain
    // job after job, entry after entry, without ever letting the server read another request
    setImmediate(settle);
    this.#pump();
  }

  #forgetIfIdle(tenant: string, queue: TenantQueue): void {
    if (queue.running === 0 && queue.jobs.length === 0) this.#tenants.delete(tenant);
  }
}

/** WebCrypto operations of every isolate of the process (server/host/subtle.ts) */
export const cryptoPool = new WorkPool('crypto.subtle', { slots: 2, expressSlots: 1, perTenant: 1, maxQueued: 1024 });

/** CompressionStream/DecompressionStream pieces of every isolate of the process (server/host/compression.ts) */
export const zlibPool = new WorkPool('compression', { slots: 2, expressSlots: 1, perTenant: 1, maxQueued: 4096 });

/**
 * DNS lookups of tenants' fetch() calls (server/host/egress.ts): getaddrinfo also waits on a
 * thread of libuv's pool, for as long as the resolver takes
 */
export const dnsPool = new WorkPool('DNS', { slots: 2, expressSlots: 0, perTenant: 1, maxQueued: 1024 });

/** what the pools hold now (tests and diagnostics) */
export function workPoolStats(): Record<string, PoolStats> {
  return { crypto: cryptoPool.stats(), zlib: zlibPool.stats(), dns: dnsPool.stats() };
}
