// The worker's side of `islet serve` under a supervisor: crash containment (the quarantine list
// and the in-flight journal the supervisor reads if the worker dies) and read-your-writes (the
// store fan-out's acknowledgements), with the single-process form of the latter.
import type { Config } from '../config';
import type { Logger } from '../observe/server-log';
import type { StoreFollower } from '../tenants/store-follower';
import type { WriteSync } from '../admin/consistency';
import { isolateApi } from '../host/isolate-api';
import { entryWatch } from '../host/entry-watch';
import { openJournal } from '../cluster/journal-writer';
import type { QuarantinedTenants } from '../tenants/quarantined';
import type { RequestTracker } from '../front/tracker';
import { workerChannel } from '../cluster/worker-channel';

/**
 * Crash containment, the worker's part: the supervisor's list of quarantined tenants, and the
 * in-flight journal (told of every request, and of every entry into a tenant's isolate) that it
 * reads if this worker dies. Returns the journal as the front's tracker (undefined without one).
 */
export function joinContainment(quarantined: QuarantinedTenants, logger: Logger): RequestTracker | undefined {
  workerChannel().on('quarantine.list', ({ tenants }) => quarantined.set(tenants));
  // an isolate that cannot stop (stuck near its heap limit, or past a time limit in a builtin)
  // ends this worker within a second (the supervisor replaces it and blames the tenant the
  // addon names) instead of holding it for many seconds
  isolateApi().watchStuckIsolates?.(STUCK_RUN_MS);
  const file = process.env.ISLET_JOURNAL;
  if (!file) return undefined;
  try {
    const journal = openJournal(file, isolateApi().mapSharedFile);
    entryWatch.watcher = journal;
    return journal;
  } catch (error) {
    logger.warn('no in-flight journal: requests of this worker get 502 if it dies', {
      error: (error as Error).message,
    });
    return undefined;
  }
}

/** how long an isolate asked to stop (heap or time limit) may take to end its run before its worker is ended */
const STUCK_RUN_MS = 1000;

/** how long a store change may take to reach every process before it is reported as lagging */
export function fanoutTimeoutMs(config: Config): number {
  return config.cluster.syncTimeoutMs || 5000;
}

/** Read-your-writes in one process: the write is served once this process's follower reached it. */
export function localWriteSync(follower: StoreFollower, config: Config): { sync: WriteSync; leave(): void } {
  const timeoutMs = fanoutTimeoutMs(config);
  const sync: WriteSync = {
    reach: async (revision) => {
      if (await follower.reach(revision, timeoutMs)) return [];
      const message = `revision ${revision} was not served within ${timeoutMs} ms (at ${follower.revision})`;
      return [{ worker: `this process (pid ${process.pid})`, pid: process.pid, reason: 'timeout', message }];
    },
  };
  return { sync, leave: () => {} };
}

/**
 * Read-your-writes under the supervisor: this worker answers the supervisor's 'store.apply'
 * once it serves the revision asked, and a write made through its admin API asks the supervisor
 * to bring every worker to the write's revision (cluster/store-fanout.ts).
 */
export function joinStoreFanout(follower: StoreFollower, config: Config): { sync: WriteSync; leave(): void } {
  const channel = workerChannel();
  const timeoutMs = fanoutTimeoutMs(config);
  const stop = channel.handle('store.apply', async ({ revision }) => {
    if (!(await follower.reach(revision, timeoutMs)))
      throw new Error(`revision ${revision} was not served within ${timeoutMs} ms (at ${follower.revision})`);
    return { applied: follower.revision };
  });
  const sync: WriteSync = {
    reach: async (revision) => {
      try {
        // the supervisor answers within its own wait for the workers; this bound only covers a lost answer
        return (await channel.ask('store.sync', { revision }, { timeoutMs: timeoutMs + 2000 })).lagging;
      } catch (error) {
        return [{ worker: 'the supervisor', reason: 'failed', message: (error as Error).message }];
      }
    },
  };
  return { sync, leave: stop };
}
