// The supervisor as its node's one subscriber to the store (DESIGN.md "Many machines"): it
// follows the store's change feed (the directory store's log, or PostgreSQL's LISTEN and change
// table, so a write made by another node arrives here too) and brings every serving worker to
// each new revision over the IPC channel, with acknowledgements ('store.apply': a worker answers
// once it serves every change up to that revision). Workers never poll the store on their own
// except for a slow safety net (tenants/store-follower.ts).
//
// Read-your-writes: a worker whose admin API made a write asks 'store.sync' with the write's
// revision; the answer comes once every serving worker acknowledged it, or after the sync
// timeout with the workers that lag (the API then says so in its answer). Asks for a revision
// that an ask in flight already covers wait for that one instead of asking again.
import type { Worker } from 'node:cluster';
import type { Logger } from '../observe/server-log';
import type { ChangeFeed, DeploymentStore } from '../store/types';
import type { Lag } from './messages';
import { primaryChannel, type Collected } from './primary-channel';

export interface StoreFanoutOptions {
  store: DeploymentStore;
  logger: Logger;
  /** the workers that serve requests now (ready ones, and retiring ones still finishing theirs) */
  workers(): Worker[];
  /** how long a write's answer waits for the workers */
  timeoutMs: number;
  /** the feed's slow poll (ms), on top of the store's own hints */
  pollMs?: number;
}

interface Ask {
  revision: number;
  done: Promise<Lag[]>;
}

function lagOf(missing: Collected<unknown>['missing'][number]): Lag {
  const { worker, reason, message } = missing;
  return { worker: `worker ${worker.id} (pid ${worker.pid})`, pid: worker.pid, reason, message };
}

export class StoreFanout {
  readonly #options: StoreFanoutOptions;
  readonly #channel = primaryChannel();
  #feed: ChangeFeed | null = null;
  /** asks in flight, by revision */
  #asks: Ask[] = [];
  #stopHandling: (() => void) | null = null;
  #lastLagLog = 0;

  constructor(options: StoreFanoutOptions) {
    this.#options = options;
  }

  /** Answers workers' 'store.sync' and follows the store's feed from its current revision. */
  async start(): Promise<void> {
    const { store, logger } = this.#options;
    this.#stopHandling = this.#channel.handle('store.sync', async ({ revision }) => ({
      lagging: await this.bring(revision),
    }));
    const from = await store.currentRevision().catch(() => 0);
    const feed = store.openFeed({ from, pollMs: this.#options.pollMs });
    feed.onChange((change) => {
      // not awaited: a slow worker must not hold up the feed; the ask is bounded by its timeout
      void this.bring(change.revision).then((lagging) => this.#logLag(change.revision, lagging));
    });
    this.#feed = feed;
    feed.start().catch((error: Error) => logger.warn('following the store failed', { error: error.message }));
  }

  /** Brings every serving worker to `revision`; resolves with the workers that did not get there in time. */
  bring(revision: number): Promise<Lag[]> {
    const covering = this.#asks.find((ask) => ask.revision >= revision);
    if (covering) return covering.done;
    const workers = this.#options.workers().filter((worker) => worker.isConnected());
    const ask: Ask = {
      revision,
      done: this.#channel
        .askAll('store.apply', { revision }, { timeoutMs: this.#options.timeoutMs, workers })
        .then(
          ({ answers, missing }) => {
            const lagging = missing.map(lagOf);
            for (const { worker, value } of answers) {
              if (value.applied < revision) {
                const message = `worker ${worker.id} answered at revision ${value.applied}, short of ${revision}`;
                lagging.push({
                  worker: `worker ${worker.id} (pid ${worker.pid})`,
                  pid: worker.pid,
                  reason: 'failed',
                  message,
                });
              }
            }
            return lagging;
          },
          (error: Error) =>
            workers.map((worker) => ({
              worker: `worker ${worker.id} (pid ${worker.process.pid})`,
              pid: worker.process.pid,
              reason: 'unsent' as const,
              message: error.message,
            })),
        )
        .finally(() => {
          this.#asks = this.#asks.filter((a) => a !== ask);
        }),
    };
    this.#asks.push(ask);
    return ask.done;
  }

  async close(): Promise<void> {
    this.#stopHandling?.();
    await this.#feed?.close();
  }

  /** a change from the feed that some worker did not apply in time: said, at most once a second */
  #logLag(revision: number, lagging: Lag[]): void {
    if (lagging.length === 0 || Date.now() - this.#lastLagLog < 1000) return;
    this.#lastLagLog = Date.now();
    this.#options.logger.warn('workers lag behind the store', {
      revision,
      lagging: lagging.map((lag) => `${lag.worker}: ${lag.message}`),
    });
  }
}
