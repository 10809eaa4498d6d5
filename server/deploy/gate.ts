// Builds are CPU-heavy (esbuild, then loading the deployment in an isolate): a burst of uploads
// must not starve tenant traffic on the same machine. The gate lets a few run at once, queues a
// bounded number more, and turns the rest away with 503 so clients retry later.
import { DeployError } from '../errors';

export class DeployGate {
  #running = 0;
  #queue: (() => void)[] = [];

  constructor(
    readonly concurrency: number,
    readonly maxQueued: number,
  ) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#running >= this.concurrency) {
      if (this.#queue.length >= this.maxQueued) {
        throw new DeployError('ISLET_DEPLOY_BUSY', `${this.#running} deployments are building and ${this.#queue.length} are waiting: retry in a few seconds`);
      }
      await new Promise<void>((resolve) => this.#queue.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await work();
    } finally {
      // hand the slot straight to the next waiter, or free it
      const next = this.#queue.shift();
      if (next) next();
      else this.#running--;
    }
  }
}
