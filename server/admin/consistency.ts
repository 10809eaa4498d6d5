// Read-your-writes for the admin API: when a deploy, activation, rollback, delete, env, secret,
// route or token change is answered, every serving process of the node already serves it. A
// route that wrote to the store records the revision its write logged (`wrote`); after the route
// has answered, one middleware brings every serving process to that revision before the answer
// leaves (`WriteSync`: this process alone, or every worker through the supervisor), within
// `cluster.syncTimeoutMs`. Past that the answer still goes, and says which processes lag: a
// `lagging` list in its JSON body and an `islet-lagging` header, and a warning in the log.
import type { Context, MiddlewareHandler } from 'hono';
import type { Lag } from '../cluster/messages';
import type { Logger } from '../observe/server-log';
import type { AdminEnv } from './auth';

export type { Lag } from '../cluster/messages';

/** Brings every serving process of this node to a revision; resolves with the ones that did not get there in time. */
export interface WriteSync {
  reach(revision: number): Promise<Lag[]>;
}

const wroteKey = 'islet.wroteRevision';

/** Records that this request's write logged `revision` (the newest one counts). */
export function wrote(c: Context<AdminEnv>, revision: number): void {
  const seen = (c as unknown as Context).get(wroteKey) as number | undefined;
  if (seen === undefined || revision > seen) (c as unknown as Context).set(wroteKey, revision);
}

/** The middleware (mounted before every route): after a route wrote, its answer waits for the sync. */
export function readYourWrites(sync: WriteSync, logger: Logger): MiddlewareHandler {
  return async (c, next) => {
    await next();
    const revision = c.get(wroteKey) as number | undefined;
    if (revision === undefined) return;
    let lagging: Lag[];
    try {
      lagging = await sync.reach(revision);
    } catch (error) {
      lagging = [{ worker: 'this process', reason: 'failed', message: (error as Error).message }];
    }
    if (lagging.length === 0) return;
    logger.warn('answering a write before every serving process applied it', {
      method: c.req.method,
      path: c.req.path,
      revision,
      lagging: lagging.map((lag) => `${lag.worker}: ${lag.message}`),
    });
    const headers = new Headers(c.res.headers);
    headers.set('islet-lagging', lagging.map((lag) => `${lag.worker} ${lag.reason}`).join(', '));
    let body: ReadableStream<Uint8Array> | string | null = c.res.body;
    if (headers.get('content-type')?.startsWith('application/json')) {
      const value = (await c.res.json()) as unknown;
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        body = JSON.stringify({ ...value, lagging, revision });
        headers.delete('content-length');
      } else body = JSON.stringify(value);
    }
    const status = c.res.status;
    // Hono copies the old answer's headers into a new one (a stale content-length among them):
    // forget the old answer first, its headers are already in `headers`
    c.res = undefined as unknown as Response;
    c.res = new Response(body, { status, headers });
  };
}
