// Deployment records (manifest + file hashes) kept in memory once read. Deployments are
// immutable, so a remembered record never goes stale: only its deletion ends it. Without this,
// every file read of a cold start (and every code cache write of a deploy) read and parsed the
// whole record again, a cost that grew with the square of the module count (2,500 modules: tens
// of seconds). Bounded by count; a deletion made by another process is noticed when this one
// next misses the memo (a record is only read for deployments that are being served or mapped).
import { LRUCache } from 'lru-cache';

export class RecordMemo<T extends object> {
  readonly #records: LRUCache<string, T>;

  constructor(max = 128) {
    this.#records = new LRUCache({ max });
  }

  /** the remembered record, else `load()`'s answer (remembered unless null) */
  async get(tenant: string, id: string, load: () => Promise<T | null>): Promise<T | null> {
    const key = `${tenant}/${id}`;
    const known = this.#records.get(key);
    if (known) return known;
    const record = await load();
    if (record) this.#records.set(key, record);
    return record;
  }

  set(tenant: string, id: string, record: T): void {
    this.#records.set(`${tenant}/${id}`, record);
  }

  forgetDeployment(tenant: string, id: string): void {
    this.#records.delete(`${tenant}/${id}`);
  }

  forgetTenant(tenant: string): void {
    const prefix = `${tenant}/`;
    for (const key of [...this.#records.keys()]) if (key.startsWith(prefix)) this.#records.delete(key);
  }
}
