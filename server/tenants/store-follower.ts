// How a serving process keeps its tenant directory in step with the store: it applies the
// store's change log in revision order (store/feed.ts's LogFeed reads it; the directory applies
// each change and says when it is served), and `reach(revision)` resolves once every change up
// to that revision is served here. The admin API's read-your-writes stands on it: a write is
// answered only after every serving process reached the write's revision.
//
// Who tells a process to look:
// - alone (`--workers 0`), the process is its node's one subscriber: the store's own feed,
//   hinted by the store (a stat of the directory store's log, PostgreSQL's LISTEN);
// - under the supervisor, the supervisor is the node's one subscriber and tells each worker
//   which revision to reach (cluster/store-fanout.ts); a worker only reads the log when told,
//   plus a slow safety poll in case a word from the supervisor was lost.
import { LogFeed } from '../store/feed';
import type { ChangeFeed, DeploymentStore, StoreChange } from '../store/types';
import { watchKinds } from '../store/watch';
import type { Logger } from '../observe/server-log';
import type { TenantDirectory } from './directory';

export interface StoreFollowerOptions {
  /**
   * true: hinted by the store itself (the process is its node's subscriber); false: reads the
   * log only when reach() asks, and on the safety poll
   */
  hinted: boolean;
  /** the slow safety poll (ms) */
  pollMs: number;
}

export class StoreFollower {
  readonly #feed: ChangeFeed;

  private constructor(feed: ChangeFeed) {
    this.#feed = feed;
  }

  /**
   * Reads the store's revision, then loads the directory (so no change falls between the two),
   * then follows the log from that revision.
   */
  static async start(
    store: DeploymentStore,
    directory: TenantDirectory,
    logger: Logger,
    options: StoreFollowerOptions,
  ): Promise<StoreFollower> {
    const from = await store.currentRevision().catch(() => 0);
    await directory.start();
    const feed = options.hinted
      ? store.openFeed({ from, pollMs: options.pollMs })
      : new LogFeed(
          {
            changesSince: (revision, limit) => store.changesSince(revision, limit),
            // no hint channel of its own: the supervisor is the node's subscriber
            listen: async (hooks) => {
              hooks.up();
              return { close: async () => {} };
            },
          },
          {
            from,
            pollMs: options.pollMs,
            onError: (error) => logger.warn('reading the store change log failed', { error: error.message }),
          },
        );
    feed.onChange((change) => directory.apply(change));
    // a failed first read is retried by the feed itself
    await feed.start().catch(() => {});
    return new StoreFollower(feed);
  }

  /** the revision of the last change served here */
  get revision(): number {
    return this.#feed.revision;
  }

  /**
   * `DeploymentStore.watch()` on this process's one feed: others in the process who follow the
   * store (KV's deletions, the cron schedule) share it rather than each opening its own (with
   * PostgreSQL, one LISTEN connection each). Called after the change is served here.
   */
  watch(listener: (change: StoreChange) => void): () => void {
    return watchKinds(this.#feed, listener);
  }

  /**
   * The store seen through this follower: every call goes to `store`, except watch(), which
   * listens to this follower's feed.
   */
  followed(store: DeploymentStore): DeploymentStore {
    return new Proxy(store, {
      get: (target, key) => {
        if (key === 'watch') return (listener: (change: StoreChange) => void) => this.watch(listener);
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  /** Resolves true once every change up to `revision` is served here, false after `timeoutMs`. */
  reach(revision: number, timeoutMs: number): Promise<boolean> {
    return this.#feed.waitFor(revision, timeoutMs);
  }

  close(): Promise<void> {
    return this.#feed.close();
  }
}
