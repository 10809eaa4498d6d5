// The Cache API's storage on one node, per tenant: cached responses on disk in one SQLite file of
// the data folder (shared by the node's worker processes, so a response put by one is found by
// another), and the most recently used of them in each process's memory (lru-cache). Both are
// bounded: memory by cache.memoryMb over all tenants (no tenant takes more than a quarter of it),
// disk by limits.cacheBytes per tenant and cache.diskMb in all; past a bound the least recently
// used responses go first. Each write is one SQLite transaction (WAL), so a process killed in
// the middle of one leaves the previous response or the new one, never a torn body.
//
// A memory copy is checked against the disk at most once a second (one indexed lookup), so a
// cache.delete() or a newer put by another worker process is seen within a second there.
import type Database from 'better-sqlite3';
import { LRUCache } from 'lru-cache';
import { openSqlite } from '../kv/sqlite';

export interface CachedResponse {
  status: number;
  statusText: string;
  /** flat [name, value, ...], names lower-case */
  headers: string[];
  body: Buffer;
  /** ms since the epoch */
  storedAt: number;
  expiresAt: number;
}

export interface ResponseCache {
  /** the fresh response stored under `url` in `cache` of `tenant`, or null */
  match(tenant: string, cache: string, url: string): CachedResponse | null;
  /** stores a response for `ttlMs`; the tenant's oldest entries leave to keep it under `tenantBytes` */
  put(
    tenant: string,
    cache: string,
    url: string,
    response: Omit<CachedResponse, 'storedAt' | 'expiresAt'>,
    ttlMs: number,
    tenantBytes: number,
  ): void;
  /** true when a fresh response was there */
  delete(tenant: string, cache: string, url: string): boolean;
  /** bytes of the tenant's responses on disk */
  usage(tenant: string): number;
  close(): void;
}

export interface CacheStoreOptions {
  file: string;
  memoryBytes: number;
  diskBytes: number;
}

const schema = `
CREATE TABLE IF NOT EXISTS entries (
  tenant      TEXT NOT NULL,
  cache       TEXT NOT NULL,
  url         TEXT NOT NULL,
  status      INTEGER NOT NULL,
  status_text TEXT NOT NULL,
  headers     TEXT NOT NULL,
  body        BLOB NOT NULL,
  stored_at   INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  size        INTEGER NOT NULL,
  used_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS entries_key ON entries (tenant, cache, url);
CREATE INDEX IF NOT EXISTS entries_tenant_used ON entries (tenant, used_at);
CREATE INDEX IF NOT EXISTS entries_used ON entries (used_at);
CREATE TABLE IF NOT EXISTS usage (tenant TEXT PRIMARY KEY, bytes INTEGER NOT NULL);
`;

/** the usage row of all tenants together ('' is no tenant name) */
const ALL = '';
/** a memory copy older than this is checked against the disk before it is served */
const RECHECK_MS = 1000;
/** a disk hit refreshes its entry's last use at most this often (a write per hit would cost more) */
const TOUCH_MS = 60_000;
/** per stored response, what its row costs besides the body */
const ROW_OVERHEAD = 256;

interface Row {
  status: number;
  status_text: string;
  headers: string;
  body: Buffer;
  stored_at: number;
  expires_at: number;
  used_at: number;
}

interface Memory {
  response: CachedResponse;
  tenant: string;
  size: number;
  checkedAt: number;
}

function sizeOf(url: string, r: Omit<CachedResponse, 'storedAt' | 'expiresAt'>): number {
  let size = ROW_OVERHEAD + url.length + r.body.length + r.statusText.length;
  for (const h of r.headers) size += h.length;
  return size;
}

export class SqliteResponseCache implements ResponseCache {
  readonly #db: Database.Database;
  readonly #memory: LRUCache<string, Memory>;
  readonly #memoryByTenant = new Map<string, number>();
  readonly #tenantShare: number;
  readonly #diskBytes: number;
  readonly #s;
  readonly #put: (
    tenant: string,
    cache: string,
    url: string,
    r: CachedResponse,
    size: number,
    tenantBytes: number,
  ) => void;
  readonly #delete: (tenant: string, cache: string, url: string) => boolean;

  constructor(options: CacheStoreOptions) {
    this.#db = openSqlite(options.file);
    this.#db.exec(schema);
    this.#diskBytes = options.diskBytes;
    this.#tenantShare = Math.floor(options.memoryBytes / 4);
    this.#memory = new LRUCache<string, Memory>({
      maxSize: Math.max(1, options.memoryBytes),
      sizeCalculation: (m) => m.size,
      dispose: (m) => this.#memoryByTenant.set(m.tenant, (this.#memoryByTenant.get(m.tenant) ?? 0) - m.size),
    });
    const db = this.#db;
    this.#s = {
      get: db.prepare<[string, string, string], Row>(
        `SELECT status, status_text, headers, body, stored_at, expires_at, used_at FROM entries
         WHERE tenant = ? AND cache = ? AND url = ?`,
      ),
      version: db.prepare<[string, string, string], { stored_at: number }>(
        'SELECT stored_at FROM entries WHERE tenant = ? AND cache = ? AND url = ?',
      ),
      size: db.prepare<[string, string, string], { size: number; expires_at: number }>(
        'SELECT size, expires_at FROM entries WHERE tenant = ? AND cache = ? AND url = ?',
      ),
      touch: db.prepare('UPDATE entries SET used_at = ? WHERE tenant = ? AND cache = ? AND url = ?'),
      upsert: db.prepare(
        `INSERT INTO entries (tenant, cache, url, status, status_text, headers, body, stored_at, expires_at, size, used_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (tenant, cache, url) DO UPDATE SET status = excluded.status, status_text = excluded.status_text,
           headers = excluded.headers, body = excluded.body, stored_at = excluded.stored_at,
           expires_at = excluded.expires_at, size = excluded.size, used_at = excluded.used_at`,
      ),
      remove: db.prepare('DELETE FROM entries WHERE tenant = ? AND cache = ? AND url = ?'),
      usage: db.prepare<[string], { bytes: number }>('SELECT bytes FROM usage WHERE tenant = ?'),
      addUsage: db.prepare(
        `INSERT INTO usage (tenant, bytes) VALUES (?, ?)
         ON CONFLICT (tenant) DO UPDATE SET bytes = bytes + excluded.bytes`,
      ),
      oldestOfTenant: db.prepare<[string], { cache: string; url: string; size: number }>(
        'SELECT cache, url, size FROM entries WHERE tenant = ? ORDER BY used_at LIMIT 64',
      ),
      oldest: db.prepare<[], { tenant: string; cache: string; url: string; size: number }>(
        'SELECT tenant, cache, url, size FROM entries ORDER BY used_at LIMIT 64',
      ),
    };
    const s = this.#s;
    const removeRow = (tenant: string, cache: string, url: string, size: number) => {
      s.remove.run(tenant, cache, url);
      s.addUsage.run(tenant, -size);
      s.addUsage.run(ALL, -size);
      this.#memory.delete(key(tenant, cache, url));
    };
    this.#put = db.transaction((tenant, cache, url, r: CachedResponse, size: number, tenantBytes: number) => {
      const old = s.size.get(tenant, cache, url);
      if (old) removeRow(tenant, cache, url, old.size);
      // make room first: the tenant's own least recently used, then everyone's past the disk bound
      this.#evict(
        () => (s.usage.get(tenant)?.bytes ?? 0) + size > tenantBytes,
        () => s.oldestOfTenant.all(tenant).map((row) => ({ ...row, tenant })),
        removeRow,
      );
      this.#evict(
        () => (s.usage.get(ALL)?.bytes ?? 0) + size > this.#diskBytes,
        () => s.oldest.all(),
        removeRow,
      );
      const headers = JSON.stringify(r.headers);
      s.upsert.run(
        tenant,
        cache,
        url,
        r.status,
        r.statusText,
        headers,
        r.body,
        r.storedAt,
        r.expiresAt,
        size,
        r.storedAt,
      );
      s.addUsage.run(tenant, size);
      s.addUsage.run(ALL, size);
    }).immediate;
    this.#delete = db.transaction((tenant: string, cache: string, url: string) => {
      const old = s.size.get(tenant, cache, url);
      if (!old) return false;
      removeRow(tenant, cache, url, old.size);
      return old.expires_at > Date.now();
    }).immediate;
  }

  /** removes least recently used rows (a batch at a time) while `over()` */
  #evict(
    over: () => boolean,
    batch: () => { tenant: string; cache: string; url: string; size: number }[],
    remove: (tenant: string, cache: string, url: string, size: number) => void,
  ): void {
    while (over()) {
      const rows = batch();
      if (rows.length === 0) return;
      for (const row of rows) {
        remove(row.tenant, row.cache, row.url, row.size);
        if (!over()) return;
      }
    }
  }

  match(tenant: string, cache: string, url: string): CachedResponse | null {
    const k = key(tenant, cache, url);
    const now = Date.now();
    const held = this.#memory.get(k);
    if (held) {
      if (held.response.expiresAt <= now) this.#memory.delete(k);
      else if (now - held.checkedAt < RECHECK_MS) return held.response;
      else if (this.#s.version.get(tenant, cache, url)?.stored_at === held.response.storedAt) {
        held.checkedAt = now;
        return held.response;
      } else this.#memory.delete(k);
    }
    const row = this.#s.get.get(tenant, cache, url);
    if (!row) return null;
    if (row.expires_at <= now) {
      this.#delete(tenant, cache, url);
      return null;
    }
    if (now - row.used_at > TOUCH_MS) {
      try {
        this.#s.touch.run(now, tenant, cache, url);
      } catch {
        // busy: the last use is only a hint for eviction
      }
    }
    const response: CachedResponse = {
      status: row.status,
      statusText: row.status_text,
      headers: JSON.parse(row.headers) as string[],
      body: row.body,
      storedAt: row.stored_at,
      expiresAt: row.expires_at,
    };
    this.#remember(k, tenant, url, response, now);
    return response;
  }

  put(
    tenant: string,
    cache: string,
    url: string,
    response: Omit<CachedResponse, 'storedAt' | 'expiresAt'>,
    ttlMs: number,
    tenantBytes: number,
  ): void {
    const size = sizeOf(url, response);
    const k = key(tenant, cache, url);
    this.#memory.delete(k);
    if (size > tenantBytes || size > this.#diskBytes) return;
    const now = Date.now();
    const stored: CachedResponse = { ...response, storedAt: now, expiresAt: now + ttlMs };
    this.#put(tenant, cache, url, stored, size, tenantBytes);
    this.#remember(k, tenant, url, stored, now);
  }

  delete(tenant: string, cache: string, url: string): boolean {
    this.#memory.delete(key(tenant, cache, url));
    return this.#delete(tenant, cache, url);
  }

  usage(tenant: string): number {
    return this.#s.usage.get(tenant)?.bytes ?? 0;
  }

  /** keeps a copy in memory unless the tenant already holds its share there */
  #remember(k: string, tenant: string, url: string, response: CachedResponse, now: number): void {
    const size = sizeOf(url, response);
    const held = this.#memoryByTenant.get(tenant) ?? 0;
    if (held + size > this.#tenantShare) return;
    this.#memoryByTenant.set(tenant, held + size);
    this.#memory.set(k, { response, tenant, size, checkedAt: now }, { ttl: Math.max(1, response.expiresAt - now) });
  }

  close(): void {
    this.#memory.clear();
    this.#db.close();
  }
}

function key(tenant: string, cache: string, url: string): string {
  return `${tenant}\u0000${cache}\u0000${url}`;
}
