// The directory store's hint source for a change feed: a stat of the change log every 250 ms
// (its size is the newest revision, fs-changes.ts), without fs.watch, which misses events on some
// filesystems and across containers. A write in this process hints at once. Every few seconds it
// also breaks the write lock of a writer that died, so that writer's change reaches readers even
// when nobody writes after it.
import fs from 'node:fs/promises';
import type { FsChangeLog } from './fs-changes';
import type { StoreLock } from './fs-lock';
import type { FeedHooks, FeedSource } from './feed';
import type { LoggedChange } from './types';

const statMs = 250;
const staleCheckMs = 3000;

export class FsFeedSource implements FeedSource {
  readonly #log: FsChangeLog;
  readonly #lock: StoreLock;
  /** hints of writes made by this process's store (the store calls `poke`) */
  readonly #local: Set<() => void>;

  constructor(log: FsChangeLog, lock: StoreLock, local: Set<() => void>) {
    this.#log = log;
    this.#lock = lock;
    this.#local = local;
  }

  changesSince(revision: number, limit: number): Promise<LoggedChange[]> {
    return this.#log.since(revision, limit);
  }

  async listen(hooks: FeedHooks): Promise<{ close(): Promise<void> }> {
    let size = -1;
    let lastStaleCheck = Date.now();
    let busy = false;
    const tick = async () => {
      if (busy) return;
      busy = true;
      try {
        const now = await fs.stat(this.#log.file).then(
          (s) => s.size,
          () => 0,
        );
        if (now !== size) {
          size = now;
          hooks.hint();
        }
        if (Date.now() - lastStaleCheck > staleCheckMs) {
          lastStaleCheck = Date.now();
          if (await this.#lock.recoverStale()) hooks.hint();
        }
      } catch {
        // a transient error (the folder being moved, a full disk): the next tick looks again
      } finally {
        busy = false;
      }
    };
    const timer = setInterval(() => void tick(), statMs);
    timer.unref();
    const poke = () => hooks.hint();
    this.#local.add(poke);
    hooks.up();
    return {
      close: async () => {
        clearInterval(timer);
        this.#local.delete(poke);
      },
    };
  }
}
