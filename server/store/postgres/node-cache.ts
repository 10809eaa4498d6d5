// What one node keeps on its own disk when the store is PostgreSQL, under <data dir>/node-cache:
//
//   blobs/<2 hex>/<sha256>        module sources and source maps, by content hash
//   code/<v8 version>/<sha256>    V8 code caches, by the hash of the module they were made from
//                                 (they depend on the V8 build, so they never leave the node)
//   state/<sha256 of key>.json    the last value read of a few records serving needs (a tenant,
//                                 the tenant list, a deployment's manifest and files, env with its
//                                 secrets still encrypted), served when PostgreSQL cannot be reached
//
// Writes are temp + rename (atomic.ts, without the fsyncs: a cache lost in a power cut is read
// again). Blobs are checked against their hash when read: a damaged file is dropped, not served.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { readIfExists, writeFileAtomic } from '../atomic';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

export class NodeCache {
  readonly dir: string;
  readonly #tmp: string;
  /** the hash of the JSON last written per state key: an unchanged value is not written again */
  readonly #written = new Map<string, string>();
  #ready: Promise<void>;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
    this.#tmp = path.join(this.dir, 'tmp');
    this.#ready = fs.mkdir(this.#tmp, { recursive: true, mode: 0o700 }).then(() => {});
    this.#ready.catch(() => {});
  }

  async #put(file: string, data: Buffer | string): Promise<void> {
    await this.#ready;
    await writeFileAtomic(this.#tmp, file, data, false);
  }

  #blobFile(hash: string): string {
    return path.join(this.dir, 'blobs', hash.slice(0, 2), hash);
  }

  async readBlob(hash: string): Promise<Buffer | null> {
    const file = this.#blobFile(hash);
    const data = await readIfExists(file).catch(() => null);
    if (data && sha256(data) !== hash) {
      await fs.rm(file, { force: true });
      return null;
    }
    return data;
  }

  async writeBlob(hash: string, data: Buffer): Promise<void> {
    const file = this.#blobFile(hash);
    if (
      await fs.stat(file).then(
        () => true,
        () => false,
      )
    )
      return;
    await this.#put(file, data);
  }

  #codeFile(v8Version: string, moduleHash: string): string {
    const version = v8Version.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100) || '_';
    return path.join(this.dir, 'code', version, moduleHash);
  }

  readCode(v8Version: string, moduleHash: string): Promise<Buffer | null> {
    return readIfExists(this.#codeFile(v8Version, moduleHash));
  }

  writeCode(v8Version: string, moduleHash: string, data: Buffer): Promise<void> {
    return this.#put(this.#codeFile(v8Version, moduleHash), data);
  }

  #stateFile(key: string): string {
    return path.join(this.dir, 'state', `${sha256(key)}.json`);
  }

  /** keeps `value` as the last known value of `key` (best effort: a failure only logs nothing) */
  async remember(key: string, value: unknown): Promise<void> {
    const json = JSON.stringify({ key, value });
    const hash = sha256(json);
    if (this.#written.get(key) === hash) return;
    try {
      await this.#put(this.#stateFile(key), json);
      this.#written.set(key, hash);
    } catch {
      // a full or read-only disk: the cache is a fallback, serving goes on without it
    }
  }

  async forget(key: string): Promise<void> {
    this.#written.delete(key);
    await fs.rm(this.#stateFile(key), { force: true }).catch(() => {});
  }

  /** the last known value of `key`, or undefined when none was kept */
  async recall<T>(key: string): Promise<{ value: T } | undefined> {
    const data = await readIfExists(this.#stateFile(key)).catch(() => null);
    if (!data) return undefined;
    try {
      const stored = JSON.parse(data.toString('utf8')) as { key: string; value: T };
      return stored.key === key ? { value: stored.value } : undefined;
    } catch {
      return undefined;
    }
  }
}
