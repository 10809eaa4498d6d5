// KV on PostgreSQL (tables islet.kv and islet.kv_usage, migration 5), for nodes sharing a
// PostgreSQL store: every node reads and writes the same data, so a write on one machine is read
// on every other by the next request. A write is one transaction that first locks the tenant's
// usage row (created on the tenant's first write), so the quota check and the write cannot
// disagree, and two writers of one tenant take turns while other tenants' writers do not wait.
// Expired entries are swept a tenant at a time, in the same lock order as writes. A read waits
// for the writes of its tenant that this process has in flight, so a function that reads right
// after a put it did not await reads its own write (as on SQLite, where a put is done at once).
//
// A database that cannot be reached fails the call (the function sees `503 the KV store is
// unavailable`); KV data is not kept in the node cache: serving code from cache is safe, serving
// stale KV values as if they were current is not.
import type pg from 'pg';
import type { Db } from '../../store/postgres/db';
import { isUnavailable } from '../../store/postgres/connect';
import {
  type KvBackend,
  type KvEntry,
  type KvListOptions,
  type KvListPage,
  type KvNamespaceRef,
  type KvPut,
  type KvQuota,
  type KvUsage,
  KvQuotaError,
  entrySize,
} from './backend';

/** UTF-8 never contains 0xFF: a key that starts with `prefix` sorts below prefix + 0xFF */
const AFTER_ALL = Buffer.from([0xff]);
const NOTHING = Buffer.alloc(0);
const SWEEP_MS = 60_000;
const SWEEP_BATCH = 1000;

const nowSeconds = () => Math.floor(Date.now() / 1000);

export interface PostgresKvOptions {
  db: Db;
  /** applies the store's migrations (KV's tables are migration 5) */
  migrate(): Promise<unknown>;
}

type Client = Pick<pg.PoolClient, 'query'>;

export class PostgresKvBackend implements KvBackend {
  readonly #db: Db;
  readonly #applyMigrations: () => Promise<unknown>;
  #schema: Promise<unknown> | null = null;
  readonly #sweep: NodeJS.Timeout;
  #closed = false;
  /** writes in flight, by tenant */
  readonly #writing = new Map<string, Set<Promise<unknown>>>();

  constructor(options: PostgresKvOptions) {
    this.#db = options.db;
    this.#applyMigrations = options.migrate;
    this.#sweep = setInterval(() => void this.sweepExpired().catch(() => {}), SWEEP_MS);
    this.#sweep.unref();
  }

  /** applies the schema once (again after a failure); an unreachable database is STORE_UNAVAILABLE */
  #migrate(): Promise<unknown> {
    this.#schema ??= this.#applyMigrations().catch((error) => {
      this.#schema = null;
      return this.#db.fail(error);
    });
    return this.#schema;
  }

  /** runs a write of `tenant`, known to this tenant's reads until it settled */
  #write<T>(tenant: string, work: () => Promise<T>): Promise<T> {
    const running = work();
    let set = this.#writing.get(tenant);
    if (!set) this.#writing.set(tenant, (set = new Set()));
    const tracked = running.catch(() => {});
    set.add(tracked);
    void tracked.then(() => {
      set.delete(tracked);
      if (set.size === 0 && this.#writing.get(tenant) === set) this.#writing.delete(tenant);
    });
    return running;
  }

  /** resolves once this process's writes of `tenant` in flight now have settled */
  async #settled(tenant: string): Promise<void> {
    const set = this.#writing.get(tenant);
    if (set) await Promise.all(set);
  }

  /** runs `work` in one transaction; a broken connection is dropped, not pooled */
  async #transaction<T>(work: (q: Client) => Promise<T>): Promise<T> {
    await this.#migrate();
    let client: pg.PoolClient;
    try {
      client = await this.#db.pool.connect();
    } catch (error) {
      return this.#db.fail(error);
    }
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      broken = isUnavailable(error);
      if (!broken) await client.query('ROLLBACK').catch(() => (broken = true));
      if (error instanceof KvQuotaError) throw error;
      return this.#db.fail(error);
    } finally {
      client.release(broken || undefined);
    }
  }

  /** locks the tenant's usage row (making it on the first write) and reads it */
  async #lockUsage(q: Client, tenant: string): Promise<KvUsage> {
    await q.query('INSERT INTO islet.kv_usage (tenant, bytes, keys) VALUES ($1, 0, 0) ON CONFLICT DO NOTHING', [
      tenant,
    ]);
    const { rows } = await q.query<{ bytes: string; keys: string }>(
      'SELECT bytes, keys FROM islet.kv_usage WHERE tenant = $1 FOR UPDATE',
      [tenant],
    );
    return { bytes: Number(rows[0]!.bytes), keys: Number(rows[0]!.keys) };
  }

  async get(ns: KvNamespaceRef, key: string): Promise<KvEntry | null> {
    await this.#settled(ns.tenant);
    await this.#migrate();
    const { rows } = await this.#db.query<{ value: Buffer; metadata: string | null; expiration: string | null }>(
      'SELECT value, metadata, expiration FROM islet.kv WHERE tenant = $1 AND ns = $2 AND key = $3',
      [ns.tenant, ns.namespace, Buffer.from(key)],
    );
    const row = rows[0];
    const expiration = row?.expiration === null || row === undefined ? null : Number(row.expiration);
    if (!row || (expiration !== null && expiration <= nowSeconds())) return null;
    return { value: row.value, metadata: row.metadata, expiration };
  }

  async put(ns: KvNamespaceRef, key: string, entry: KvPut, quota: KvQuota): Promise<void> {
    const keyBytes = Buffer.from(key);
    const size = entrySize(key, entry.value, entry.metadata);
    const write = this.#transaction(async (q) => {
      const usage = await this.#lockUsage(q, ns.tenant);
      const { rows } = await q.query<{ size: number }>(
        'SELECT size FROM islet.kv WHERE tenant = $1 AND ns = $2 AND key = $3',
        [ns.tenant, ns.namespace, keyBytes],
      );
      const old = rows[0];
      const bytes = usage.bytes - (old?.size ?? 0) + size;
      // a write that frees space is always let through, even over a quota lowered since
      if (!old && usage.keys + 1 > quota.keys) throw new KvQuotaError('keys', quota.keys, usage.keys);
      if (bytes > quota.bytes && size > (old?.size ?? 0)) throw new KvQuotaError('bytes', quota.bytes, usage.bytes);
      await q.query(
        `INSERT INTO islet.kv (tenant, ns, key, value, metadata, expiration, size) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tenant, ns, key) DO UPDATE SET value = EXCLUDED.value, metadata = EXCLUDED.metadata,
           expiration = EXCLUDED.expiration, size = EXCLUDED.size`,
        [ns.tenant, ns.namespace, keyBytes, entry.value, entry.metadata, entry.expiration, size],
      );
      await q.query('UPDATE islet.kv_usage SET bytes = bytes + $2, keys = keys + $3 WHERE tenant = $1', [
        ns.tenant,
        size - (old?.size ?? 0),
        old ? 0 : 1,
      ]);
    });
    await this.#write(ns.tenant, () => write);
  }

  async delete(ns: KvNamespaceRef, key: string): Promise<void> {
    const write = this.#transaction(async (q) => {
      await this.#lockUsage(q, ns.tenant);
      const { rows } = await q.query<{ size: number }>(
        'DELETE FROM islet.kv WHERE tenant = $1 AND ns = $2 AND key = $3 RETURNING size',
        [ns.tenant, ns.namespace, Buffer.from(key)],
      );
      if (rows[0]) {
        await q.query('UPDATE islet.kv_usage SET bytes = bytes - $2, keys = keys - 1 WHERE tenant = $1', [
          ns.tenant,
          rows[0].size,
        ]);
      }
    });
    await this.#write(ns.tenant, () => write);
  }

  async list(ns: KvNamespaceRef, options: KvListOptions): Promise<KvListPage> {
    await this.#settled(ns.tenant);
    await this.#migrate();
    const prefix = options.prefix ? Buffer.from(options.prefix) : NOTHING;
    const after = options.cursor ? Buffer.from(options.cursor, 'base64url') : NOTHING;
    const { rows } = await this.#db.query<{ key: Buffer; expiration: string | null; metadata: string | null }>(
      `SELECT key, expiration, metadata FROM islet.kv
       WHERE tenant = $1 AND ns = $2 AND key > $3 AND key >= $4 AND key < $5
         AND (expiration IS NULL OR expiration > $6)
       ORDER BY key LIMIT $7`,
      [ns.tenant, ns.namespace, after, prefix, Buffer.concat([prefix, AFTER_ALL]), nowSeconds(), options.limit + 1],
    );
    const more = rows.length > options.limit;
    const page = more ? rows.slice(0, options.limit) : rows;
    return {
      keys: page.map((r) => ({
        name: r.key.toString('utf8'),
        expiration: r.expiration === null ? null : Number(r.expiration),
        metadata: r.metadata,
      })),
      cursor: more ? page[page.length - 1]!.key.toString('base64url') : null,
    };
  }

  async usage(tenant: string): Promise<KvUsage> {
    await this.#migrate();
    const { rows } = await this.#db.query<{ bytes: string; keys: string }>(
      'SELECT bytes, keys FROM islet.kv_usage WHERE tenant = $1',
      [tenant],
    );
    return rows[0] ? { bytes: Number(rows[0].bytes), keys: Number(rows[0].keys) } : { bytes: 0, keys: 0 };
  }

  async dropTenant(tenant: string): Promise<void> {
    await this.#transaction(async (q) => {
      await q.query('DELETE FROM islet.kv_usage WHERE tenant = $1', [tenant]);
      await q.query('DELETE FROM islet.kv WHERE tenant = $1', [tenant]);
    });
  }

  /** removes expired entries, a tenant and a batch at a time, giving their bytes back */
  async sweepExpired(): Promise<number> {
    if (this.#closed) return 0;
    await this.#migrate();
    const now = nowSeconds();
    const { rows } = await this.#db.query<{ tenant: string }>(
      'SELECT DISTINCT tenant FROM islet.kv WHERE expiration IS NOT NULL AND expiration <= $1',
      [now],
    );
    let removed = 0;
    for (const { tenant } of rows) {
      for (;;) {
        const batch = await this.#transaction(async (q) => {
          await this.#lockUsage(q, tenant);
          const gone = await q.query<{ bytes: string; keys: string }>(
            `WITH gone AS (
               DELETE FROM islet.kv WHERE ctid IN (
                 SELECT ctid FROM islet.kv WHERE tenant = $1 AND expiration IS NOT NULL AND expiration <= $2 LIMIT $3)
               RETURNING size)
             SELECT coalesce(sum(size), 0) AS bytes, count(*) AS keys FROM gone`,
            [tenant, now, SWEEP_BATCH],
          );
          const { bytes, keys } = gone.rows[0]!;
          await q.query('UPDATE islet.kv_usage SET bytes = bytes - $2, keys = keys - $3 WHERE tenant = $1', [
            tenant,
            bytes,
            keys,
          ]);
          return Number(keys);
        });
        removed += batch;
        if (batch < SWEEP_BATCH) break;
      }
    }
    return removed;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweep);
    await this.#db.close();
  }
}
