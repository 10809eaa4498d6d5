// Builds are CPU-heavy (esbuild, then loading the deployment in an isolate): a burst of uploads
// must not starve tenant traffic on the same machine, and one tenant's burst must not starve
// other tenants' deploys. The gate lets a few builds run at once, at most one per tenant; it
// queues a bounded number more, at most `perTenantQueued` of any one tenant (its share); and
// when a slot frees it goes to the waiting tenant served least recently (round robin over
// tenants, not first come first served over uploads), so 40 parallel uploads from one token cost
// other tenants one build's wait at most. Past the queue or a tenant's share: 503 BUSY.
import { DeployError } from '../errors';

export class DeployGate {
  #running = 0;
  readonly #runningBy = new Map<string, number>();
  /** waiting uploads by tenant, in the order tenants started waiting */
  readonly #waiting = new Map<string, (() => void)[]>();
  /** when each busy tenant last started a build (a sequence number): the least recent goes next */
  readonly #lastStarted = new Map<string, number>();
  #starts = 0;
  #queued = 0;

  constructor(
    readonly concurrency: number,
    readonly maxQueued: number,
    readonly perTenantQueued = maxQueued,
  ) {}

  /** runs `work` for `tenant` when its turn comes; throws DeployError BUSY when it cannot wait */
  async run<T>(tenant: string, work: () => Promise<T>): Promise<T> {
    if (this.#running < this.concurrency && !this.#runningBy.get(tenant)) {
      this.#start(tenant);
    } else {
      const mine = this.#waiting.get(tenant)?.length ?? 0;
      if (mine >= this.perTenantQueued) {
        throw new DeployError(
          'ISLET_DEPLOY_BUSY',
          `tenant '${tenant}' already has a deployment building and ${mine} waiting (its share of the build ` +
            'queue): retry when they are done',
        );
      }
      if (this.#queued >= this.maxQueued) {
        throw new DeployError(
          'ISLET_DEPLOY_BUSY',
          `${this.#running} deployments are building and ${this.#queued} are waiting: retry in a few seconds`,
        );
      }
      await new Promise<void>((resolve) => {
        const queue = this.#waiting.get(tenant);
        if (queue) queue.push(resolve);
        else this.#waiting.set(tenant, [resolve]);
        this.#queued++;
      });
    }
    try {
      return await work();
    } finally {
      this.#finish(tenant);
    }
  }

  /** builds running and waiting now (for tests and logs) */
  get load(): { running: number; queued: number } {
    return { running: this.#running, queued: this.#queued };
  }

  #start(tenant: string): void {
    this.#running++;
    this.#runningBy.set(tenant, (this.#runningBy.get(tenant) ?? 0) + 1);
    this.#lastStarted.set(tenant, ++this.#starts);
  }

  #finish(tenant: string): void {
    this.#running--;
    const left = (this.#runningBy.get(tenant) ?? 1) - 1;
    if (left > 0) this.#runningBy.set(tenant, left);
    else {
      this.#runningBy.delete(tenant);
      // a tenant with nothing running and nothing waiting has no turn to remember
      if (!this.#waiting.has(tenant)) this.#lastStarted.delete(tenant);
    }
    this.#dispatch();
  }

  /**
   * Gives free slots to waiting tenants: the one served least recently first (never served before
   * any), skipping tenants that already have a build running.
   */
  #dispatch(): void {
    while (this.#running < this.concurrency) {
      let next: string | undefined;
      let nextStarted = Infinity;
      for (const tenant of this.#waiting.keys()) {
        if (this.#runningBy.get(tenant)) continue;
        const started = this.#lastStarted.get(tenant) ?? -1;
        if (started < nextStarted) {
          next = tenant;
          nextStarted = started;
        }
      }
      if (next === undefined) return;
      const queue = this.#waiting.get(next)!;
      const resolve = queue.shift()!;
      if (queue.length === 0) this.#waiting.delete(next);
      this.#queued--;
      this.#start(next);
      resolve();
    }
  }
}
