// How the directory store logs its writes: the write lock every process takes (fs-lock.ts), the
// change log appended last under it (fs-changes.ts), and the change feeds that follow the log
// (fs-feed.ts), woken at once by writes of this process. A writer that died holding the lock has
// its intended change logged by whoever breaks the lock.
import path from 'node:path';
import { type LogFeedOptions, OpenFeeds } from './feed';
import { FsChangeLog } from './fs-changes';
import { FsFeedSource } from './fs-feed';
import { StoreLock } from './fs-lock';
import type { ChangeFeed, ChangeKind, LoggedChange, StoreChange } from './types';

export class FsJournal {
  readonly #log: FsChangeLog;
  readonly #lock: StoreLock;
  /** hint functions of the feeds open in this process */
  readonly #local = new Set<() => void>();
  readonly #feeds = new OpenFeeds();

  constructor(root: string, options: { lockWaitMs?: number } = {}) {
    this.#log = new FsChangeLog(path.join(root, 'changes'));
    // the dead holder's change may or may not have landed: a spare change only makes readers look
    const recover = async (intent: StoreChange | null) => {
      if (intent) await this.#log.append(intent.tenant, intent.kind);
    };
    this.#lock = new StoreLock(path.join(root, 'locks'), recover, { waitMs: options.lockWaitMs });
  }

  /** removes claim files of writers that died before taking the lock (at open) */
  sweep(): Promise<void> {
    return this.#lock.sweep();
  }

  /**
   * Runs one write under the lock and logs its change last, still under the lock; resolves with
   * the change's revision. A write that throws logs nothing.
   */
  async logged(tenant: string, kind: ChangeKind, work: () => Promise<void>): Promise<number> {
    const change = await this.#lock.run({ tenant, kind }, async () => {
      await work();
      return this.#log.append(tenant, kind);
    });
    for (const poke of this.#local) poke();
    return change.revision;
  }

  currentRevision(): Promise<number> {
    return this.#log.currentRevision();
  }

  /** read synchronously: a watcher started now misses nothing written after this call */
  currentRevisionSync(): number {
    return this.#log.currentRevisionSync();
  }

  changesSince(revision: number, limit: number): Promise<LoggedChange[]> {
    return this.#log.since(revision, limit);
  }

  openFeed(options: Partial<LogFeedOptions>): ChangeFeed {
    const source = new FsFeedSource(this.#log, this.#lock, this.#local);
    return this.#feeds.open(source, { ...options, from: options.from ?? this.#log.currentRevisionSync() });
  }

  close(): Promise<void> {
    return this.#feeds.closeAll();
  }
}
