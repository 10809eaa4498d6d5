// KV on one machine: one SQLite file in the data folder (better-sqlite3), shared by every worker
// process of the node. WAL mode, so readers never wait for a writer and a write is one append to
// the log; synchronous=NORMAL, so a committed write survives the process being killed (kill -9)
// and a crash of the machine loses at most the last commits, never half a value (every write is
// one transaction). A tenant's usage (bytes and keys over all its namespaces) is a row updated
// in the same transaction as the data, so the quota check and the write cannot disagree.
//
// better-sqlite3 is synchronous: a statement runs on the calling thread. Reads are a B-tree
// lookup (microseconds); writes take the file's write lock for as long as one statement, and a
// writer of another process waits for it (busy_timeout) rather than failing.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
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
/** expired rows are removed this often, at most this many per statement */
const SWEEP_MS = 60_000;
const SWEEP_BATCH = 1000;

const schema = `
CREATE TABLE IF NOT EXISTS kv (
  tenant     TEXT NOT NULL,
  ns         TEXT NOT NULL,
  key        BLOB NOT NULL,
  value      BLOB NOT NULL,
  metadata   TEXT,
  expiration INTEGER,
  size       INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS kv_key ON kv (tenant, ns, key);
CREATE INDEX IF NOT EXISTS kv_expiration ON kv (expiration) WHERE expiration IS NOT NULL;
CREATE TABLE IF NOT EXISTS kv_usage (
  tenant TEXT PRIMARY KEY,
  bytes  INTEGER NOT NULL,
  keys   INTEGER NOT NULL
);
`;

interface Row {
  value: Buffer;
  metadata: string | null;
  expiration: number | null;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Opens (creating when needed) an SQLite database in WAL mode, as KV and the cache use it. */
export function openSqlite(file: string): Database.Database {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // another worker process holding the write lock: wait for it rather than fail
  db.pragma('busy_timeout = 5000');
  return db;
}

export class SqliteKvBackend implements KvBackend {
  readonly #db: Database.Database;
  readonly #statements;
  readonly #put: (ns: KvNamespaceRef, key: Buffer, entry: KvPut, size: number, quota: KvQuota) => void;
  readonly #delete: (ns: KvNamespaceRef, key: Buffer) => void;
  readonly #sweep: NodeJS.Timeout;
  #closed = false;

  constructor(file: string) {
    this.#db = openSqlite(file);
    this.#db.exec(schema);
    const db = this.#db;
    this.#statements = {
      get: db.prepare<[string, string, Buffer], Row>(
        'SELECT value, metadata, expiration FROM kv WHERE tenant = ? AND ns = ? AND key = ?',
      ),
      size: db.prepare<[string, string, Buffer], { size: number }>(
        'SELECT size FROM kv WHERE tenant = ? AND ns = ? AND key = ?',
      ),
      usage: db.prepare<[string], KvUsage>('SELECT bytes, keys FROM kv_usage WHERE tenant = ?'),
      upsert: db.prepare(
        `INSERT INTO kv (tenant, ns, key, value, metadata, expiration, size) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (tenant, ns, key) DO UPDATE SET value = excluded.value, metadata = excluded.metadata,
           expiration = excluded.expiration, size = excluded.size`,
      ),
      remove: db.prepare('DELETE FROM kv WHERE tenant = ? AND ns = ? AND key = ?'),
      addUsage: db.prepare(
        `INSERT INTO kv_usage (tenant, bytes, keys) VALUES (?, ?, ?)
         ON CONFLICT (tenant) DO UPDATE SET bytes = bytes + excluded.bytes, keys = keys + excluded.keys`,
      ),
      list: db.prepare<
        [string, string, Buffer, Buffer, Buffer, number, number],
        { key: Buffer; expiration: number | null; metadata: string | null }
      >(
        `SELECT key, expiration, metadata FROM kv
         WHERE tenant = ? AND ns = ? AND key > ? AND key >= ? AND key < ? AND (expiration IS NULL OR expiration > ?)
         ORDER BY key LIMIT ?`,
      ),
      expired: db.prepare<[number, number], { tenant: string; bytes: number; keys: number }>(
        `SELECT tenant, SUM(size) AS bytes, COUNT(*) AS keys FROM
           (SELECT tenant, size FROM kv WHERE expiration IS NOT NULL AND expiration <= ? ORDER BY rowid LIMIT ?)
         GROUP BY tenant`,
      ),
      deleteExpired: db.prepare(
        `DELETE FROM kv WHERE rowid IN
           (SELECT rowid FROM kv WHERE expiration IS NOT NULL AND expiration <= ? ORDER BY rowid LIMIT ?)`,
      ),
      dropData: db.prepare('DELETE FROM kv WHERE tenant = ?'),
      dropUsage: db.prepare('DELETE FROM kv_usage WHERE tenant = ?'),
    };
    const s = this.#statements;
    this.#put = db.transaction((ns: KvNamespaceRef, key: Buffer, entry: KvPut, size: number, quota: KvQuota) => {
      const old = s.size.get(ns.tenant, ns.namespace, key);
      const usage = s.usage.get(ns.tenant) ?? { bytes: 0, keys: 0 };
      const bytes = usage.bytes - (old?.size ?? 0) + size;
      // a write that frees space is always let through, even over a quota lowered since
      if (!old && usage.keys + 1 > quota.keys) throw new KvQuotaError('keys', quota.keys, usage.keys);
      if (bytes > quota.bytes && size > (old?.size ?? 0)) throw new KvQuotaError('bytes', quota.bytes, usage.bytes);
      s.upsert.run(ns.tenant, ns.namespace, key, entry.value, entry.metadata, entry.expiration, size);
      s.addUsage.run(ns.tenant, size - (old?.size ?? 0), old ? 0 : 1);
    }).immediate;
    this.#delete = db.transaction((ns: KvNamespaceRef, key: Buffer) => {
      const old = s.size.get(ns.tenant, ns.namespace, key);
      if (!old) return;
      s.remove.run(ns.tenant, ns.namespace, key);
      s.addUsage.run(ns.tenant, -old.size, -1);
    }).immediate;
    this.#sweep = setInterval(() => this.sweepExpired(), SWEEP_MS);
    this.#sweep.unref();
  }

  async get(ns: KvNamespaceRef, key: string): Promise<KvEntry | null> {
    const row = this.#statements.get.get(ns.tenant, ns.namespace, Buffer.from(key));
    if (!row || (row.expiration !== null && row.expiration <= nowSeconds())) return null;
    return { value: row.value, metadata: row.metadata, expiration: row.expiration };
  }

  async put(ns: KvNamespaceRef, key: string, entry: KvPut, quota: KvQuota): Promise<void> {
    this.#put(ns, Buffer.from(key), entry, entrySize(key, entry.value, entry.metadata), quota);
  }

  async delete(ns: KvNamespaceRef, key: string): Promise<void> {
    this.#delete(ns, Buffer.from(key));
  }

  async list(ns: KvNamespaceRef, options: KvListOptions): Promise<KvListPage> {
    const prefix = options.prefix ? Buffer.from(options.prefix) : NOTHING;
    const upper = Buffer.concat([prefix, AFTER_ALL]);
    const after = options.cursor ? Buffer.from(options.cursor, 'base64url') : NOTHING;
    const rows = this.#statements.list.all(
      ns.tenant,
      ns.namespace,
      after,
      prefix,
      upper,
      nowSeconds(),
      options.limit + 1,
    );
    const more = rows.length > options.limit;
    const page = more ? rows.slice(0, options.limit) : rows;
    return {
      keys: page.map((r) => ({ name: r.key.toString('utf8'), expiration: r.expiration, metadata: r.metadata })),
      cursor: more ? page[page.length - 1]!.key.toString('base64url') : null,
    };
  }

  async usage(tenant: string): Promise<KvUsage> {
    return this.#statements.usage.get(tenant) ?? { bytes: 0, keys: 0 };
  }

  async dropTenant(tenant: string): Promise<void> {
    this.#db
      .transaction(() => {
        this.#statements.dropData.run(tenant);
        this.#statements.dropUsage.run(tenant);
      })
      .immediate();
  }

  /** removes expired entries (a batch at a time) and gives their bytes back to their tenants */
  sweepExpired(): number {
    if (this.#closed) return 0;
    const s = this.#statements;
    let removed = 0;
    try {
      for (;;) {
        const now = nowSeconds();
        const batch = this.#db
          .transaction(() => {
            const freed = s.expired.all(now, SWEEP_BATCH);
            for (const f of freed) s.addUsage.run(f.tenant, -f.bytes, -f.keys);
            return s.deleteExpired.run(now, SWEEP_BATCH).changes;
          })
          .immediate();
        removed += batch;
        if (batch < SWEEP_BATCH) return removed;
      }
    } catch {
      // busy past the timeout (another process sweeping): the next sweep finishes the job
      return removed;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweep);
    this.#db.close();
  }
}
