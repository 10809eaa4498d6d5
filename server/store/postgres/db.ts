// The PostgreSQL store's access to its database: one pool, queries whose connection failures
// become STORE_UNAVAILABLE, and write transactions that end by logging their change. The change
// row, its pg_notify and the write commit together or not at all; the advisory lock taken right
// before the change row is inserted makes revisions commit in the order they were handed out, so
// a reader that sees revision r will never later see a smaller one appear (a bigserial alone
// would let a slower transaction commit a smaller revision after a larger one was read).
import pg from 'pg';
import type { ChangeKind, LoggedChange } from '../types';
import { StoreError } from '../../errors';
import { clientConfig, isUnavailable, unavailable, type PostgresConnection } from './connect';
import { lockKeys } from './migrations';

export const notifyChannel = 'islet_changes';

export type Queryable = Pick<pg.PoolClient, 'query'>;

export interface ChangeRow {
  revision: string;
  tenant: string;
  kind: ChangeKind;
  at: Date;
}

export function toChange(row: ChangeRow): LoggedChange {
  return { revision: Number(row.revision), tenant: row.tenant, kind: row.kind, at: row.at.toISOString() };
}

export class Db {
  readonly pool: pg.Pool;
  readonly connection: PostgresConnection;
  /** the last connection-level error, and when; cleared by the next query that works */
  lastError: { message: string; at: number } | null = null;

  constructor(connection: PostgresConnection) {
    this.connection = connection;
    this.pool = new pg.Pool({
      ...clientConfig(connection, 'islet'),
      max: connection.poolSize ?? 10,
      idleTimeoutMillis: 30_000,
    });
    // an idle pooled connection that the server closes (restart, failover) reports here; without
    // a listener node would treat it as an uncaught error and end the process
    this.pool.on('error', (error) => {
      this.lastError = { message: error.message, at: Date.now() };
    });
  }

  /** maps a failure: unreachable database -> STORE_UNAVAILABLE; StoreErrors pass; others as they are */
  fail(error: unknown): never {
    if (error instanceof StoreError && error.code !== 'ISLET_STORE_UNAVAILABLE') throw error;
    if (isUnavailable(error)) {
      this.lastError = { message: (error as Error).message, at: Date.now() };
      throw error instanceof StoreError ? error : unavailable(error, this.connection.url);
    }
    throw error;
  }

  async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      const result = await this.pool.query<R>(sql, params);
      this.lastError = null;
      return result;
    } catch (error) {
      this.fail(error);
    }
  }

  /**
   * Runs `work` in one transaction, then logs `change` (tenant, kind) as its last statement and
   * commits; resolves with the logged change. `work` may throw a StoreError to roll back.
   */
  async write(
    change: { tenant: string; kind: ChangeKind } | (() => { tenant: string; kind: ChangeKind }),
    work: (q: Queryable) => Promise<void>,
  ): Promise<LoggedChange> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      this.fail(error);
    }
    let broken = false;
    try {
      await client.query('BEGIN');
      await work(client);
      const { tenant, kind } = typeof change === 'function' ? change() : change;
      await client.query('SELECT pg_advisory_xact_lock($1)', [lockKeys.changes]);
      const { rows } = await client.query<ChangeRow>(
        `INSERT INTO islet.changes (tenant, kind) VALUES ($1, $2)
         RETURNING revision, tenant, kind, at, pg_notify($3, revision::text)`,
        [tenant, kind, notifyChannel],
      );
      await client.query('COMMIT');
      this.lastError = null;
      return toChange(rows[0]!);
    } catch (error) {
      broken = isUnavailable(error);
      if (!broken) await client.query('ROLLBACK').catch(() => (broken = true));
      return this.fail(error);
    } finally {
      // a connection that failed mid-transaction is destroyed, not returned to the pool
      client.release(broken || undefined);
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
