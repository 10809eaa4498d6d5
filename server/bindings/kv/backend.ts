// Where KV data lives, behind one interface: SQLite in the data folder on one machine
// (./sqlite.ts), PostgreSQL for many machines (the next part of this work; the calls below are
// shaped for it: every method is asynchronous and one statement or one transaction, quotas are
// checked in the write's own transaction against a usage row kept beside the data).
//
// Namespaces are addressed by (tenant, namespace id): the tenant comes from the host, never from
// tenant code, so a namespace id guessed from another tenant names an empty namespace of one's
// own. Keys are compared as UTF-8 bytes (list order and prefixes as Cloudflare's KV has them).

/** a namespace of one tenant */
export interface KvNamespaceRef {
  tenant: string;
  namespace: string;
}

export interface KvEntry {
  value: Buffer;
  /** JSON text, as the function gave it */
  metadata: string | null;
  /** seconds since the epoch, or null */
  expiration: number | null;
}

export interface KvPut {
  value: Buffer;
  metadata: string | null;
  expiration: number | null;
}

/** the most a tenant may store over all its namespaces */
export interface KvQuota {
  bytes: number;
  keys: number;
}

export interface KvListOptions {
  prefix: string | null;
  /** 1..1000 */
  limit: number;
  /** where the previous page ended (opaque to callers) */
  cursor: string | null;
}

export interface KvListPage {
  keys: { name: string; expiration: number | null; metadata: string | null }[];
  /** the cursor of the next page, null when this was the last */
  cursor: string | null;
}

export interface KvUsage {
  bytes: number;
  keys: number;
}

export interface KvBackend {
  get(ns: KvNamespaceRef, key: string): Promise<KvEntry | null>;
  /** throws KvQuotaError (nothing written) when the write would take the tenant past `quota` */
  put(ns: KvNamespaceRef, key: string, entry: KvPut, quota: KvQuota): Promise<void>;
  delete(ns: KvNamespaceRef, key: string): Promise<void>;
  list(ns: KvNamespaceRef, options: KvListOptions): Promise<KvListPage>;
  /** what the tenant stores now, over all its namespaces */
  usage(tenant: string): Promise<KvUsage>;
  /** removes every namespace of the tenant (the tenant was deleted) */
  dropTenant(tenant: string): Promise<void>;
  close(): Promise<void>;
}

/** A put refused because the tenant's quota is full; nothing was written. */
export class KvQuotaError extends Error {
  constructor(
    readonly what: 'bytes' | 'keys',
    readonly limit: number,
    readonly used: number,
  ) {
    super(
      what === 'bytes'
        ? `the tenant's KV storage quota of ${limit} bytes is full (${used} bytes used)`
        : `the tenant's KV quota of ${limit} keys is reached`,
    );
    this.name = 'KvQuotaError';
  }
}

/** the bytes an entry counts against the quota: key, value and metadata */
export function entrySize(key: string, value: Buffer, metadata: string | null): number {
  return Buffer.byteLength(key) + value.length + (metadata === null ? 0 : Buffer.byteLength(metadata));
}
