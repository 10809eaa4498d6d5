// The PostgreSQL hint source for a change feed: one dedicated connection that LISTENs on the
// change channel (outside the pool, which would hand it to other queries). A NOTIFY is only a
// hint: the feed reads the changes table itself. When the connection is lost (the server
// restarts, an operator runs pg_terminate_backend on it, the network drops) the source says
// `down`, reconnects with backoff and says `up`, and the feed re-reads everything after its last
// revision. A heartbeat query on the connection finds a link that died silently (no RST).
//
// node-postgres (`pg`) rather than `postgres` (postgres.js): with pg the LISTEN connection is a
// plain Client whose 'error'/'end' events we see, so the moment of loss and of reconnection is
// ours to act on (postgres.js reconnects its listeners inside the library and does not tell the
// caller that notifications may have been missed in between, which is exactly when a re-read is
// due); pg's Pool is the most used PostgreSQL pool in Node, pure JavaScript (no native build).
import pg from 'pg';
import type { FeedHooks, FeedSource } from '../feed';
import type { LoggedChange } from '../types';
import { clientConfig } from './connect';
import { notifyChannel, toChange, type ChangeRow, type Db } from './db';

export interface PgFeedOptions {
  /** how often the LISTEN connection is checked with a query (ms) */
  heartbeatMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

export class PgFeedSource implements FeedSource {
  readonly #db: Db;
  readonly #heartbeatMs: number;

  constructor(db: Db, options: PgFeedOptions = {}) {
    this.#db = db;
    this.#heartbeatMs = options.heartbeatMs ?? 5000;
  }

  async changesSince(revision: number, limit: number): Promise<LoggedChange[]> {
    const { rows } = await this.#db.query<ChangeRow>(
      'SELECT revision, tenant, kind, at FROM islet.changes WHERE revision > $1 ORDER BY revision LIMIT $2',
      [revision, limit],
    );
    return rows.map(toChange);
  }

  async listen(hooks: FeedHooks): Promise<{ close(): Promise<void> }> {
    const config = clientConfig(this.#db.connection, 'islet-feed');
    let closed = false;
    let current: pg.Client | null = null;
    let backoff = 100;
    /** a reconnect loop is running: a second loss report must not start another */
    let reconnecting = false;

    const lost = (client: pg.Client, error: Error) => {
      if (client !== current) return;
      current = null;
      client.end().catch(() => {});
      hooks.down(error);
      if (!closed) void reconnect();
    };

    const connectOnce = async (): Promise<boolean> => {
      const client = new pg.Client(config);
      client.on('error', (error) => lost(client, error));
      client.on('end', () => lost(client, new Error('the LISTEN connection ended')));
      client.on('notification', () => hooks.hint());
      try {
        await client.connect();
        await client.query(`LISTEN ${notifyChannel}`);
      } catch (error) {
        client.end().catch(() => {});
        hooks.down(error as Error);
        return false;
      }
      if (closed) {
        await client.end().catch(() => {});
        return true;
      }
      current = client;
      backoff = 100;
      hooks.up();
      return true;
    };

    // until a connection is current (one lost between its connect and the end of this loop is
    // seen by the loop's condition: no window where nobody reconnects)
    const reconnect = async () => {
      if (reconnecting) return;
      reconnecting = true;
      try {
        while (!closed && !current) {
          if (await connectOnce()) continue;
          await sleep(backoff);
          backoff = Math.min(backoff * 2, 5000);
        }
      } finally {
        reconnecting = false;
      }
    };

    const heartbeat = setInterval(() => {
      const client = current;
      if (!client) return;
      const timeout = setTimeout(
        () => lost(client, new Error('the LISTEN connection stopped answering')),
        this.#heartbeatMs,
      );
      client.query('SELECT 1').then(
        () => clearTimeout(timeout),
        (error: Error) => {
          clearTimeout(timeout);
          lost(client, error);
        },
      );
    }, this.#heartbeatMs);
    heartbeat.unref();

    // the first attempt is awaited (so a feed that starts with the database up is connected when
    // start() resolves); if it fails, retries go on in the background
    if (!(await connectOnce()) && !closed) void reconnect();

    return {
      close: async () => {
        closed = true;
        clearInterval(heartbeat);
        const client = current;
        current = null;
        await client?.end().catch(() => {});
      },
    };
  }
}
