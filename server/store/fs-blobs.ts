// The directory store's content-addressed files: blobs/<2 hex>/<sha256>, immutable, shared by
// every deployment that has the same bytes. Written before the record that names them; removed
// by a garbage collection only when no record names them and they are older than a grace period
// (an upload in flight may be about to name a blob it found present: it refreshes the blob's age
// first, and puts it back under the write lock if a collection took it anyway).
import fs from 'node:fs/promises';
import path from 'node:path';
import { fsyncDir, listDir, readIfExists, writeFileAtomic } from './atomic';

/** Unreferenced blobs younger than this are kept: a concurrent upload may be about to name them. */
const graceMs = 10 * 60 * 1000;
/** blobs written at once by one upload: enough to overlap fsyncs, few enough to be polite */
const writeConcurrency = 8;

export class FsBlobs {
  readonly #dir: string;
  readonly #tmp: string;

  constructor(root: string, tmp: string) {
    this.#dir = path.join(root, 'blobs');
    this.#tmp = tmp;
  }

  file(hash: string): string {
    return path.join(this.#dir, hash.slice(0, 2), hash);
  }

  read(hash: string): Promise<Buffer | null> {
    return readIfExists(this.file(hash));
  }

  /** stores every file (path -> data, `hashes` path -> sha256) not yet present, durably */
  async writeAll(files: Map<string, Buffer>, hashes: Record<string, string>): Promise<void> {
    // a few at a time, each folder fsynced once at the end
    const pending = [...files].map(([p, data]) => ({ hash: hashes[p]!, data }));
    const written = new Set<string>();
    for (let i = 0; i < pending.length; i += writeConcurrency) {
      const batch = pending.slice(i, i + writeConcurrency);
      const results = await Promise.all(batch.map((b) => this.#put(b.hash, b.data)));
      for (const [j, wrote] of results.entries()) if (wrote) written.add(path.dirname(this.file(batch[j]!.hash)));
    }
    for (const dir of written) await fsyncDir(dir);
  }

  /** puts back any of `files` a garbage collection removed after writeAll (caller holds the lock) */
  async restoreMissing(files: Map<string, Buffer>, hashes: Record<string, string>): Promise<void> {
    for (const [p, data] of files) {
      const blob = this.file(hashes[p]!);
      const present = await fs.stat(blob).then(
        () => true,
        () => false,
      );
      if (!present) await writeFileAtomic(this.#tmp, blob, data);
    }
  }

  /** stores one blob unless present; true when it wrote (its folder then needs an fsync) */
  async #put(hash: string, data: Buffer): Promise<boolean> {
    const file = this.file(hash);
    try {
      // Already stored: refresh its age so a concurrent garbage collection keeps it.
      const now = new Date();
      await fs.utimes(file, now, now);
      return false;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    await writeFileAtomic(this.#tmp, file, data, false);
    return true;
  }

  /** removes one blob (the caller made sure nothing names it) */
  async remove(hash: string): Promise<void> {
    await fs.rm(this.file(hash), { force: true });
  }

  /** removes blobs not in `referenced` and older than the grace period */
  async collectGarbage(referenced: Set<string>): Promise<void> {
    const now = Date.now();
    for (const prefix of await listDir(this.#dir)) {
      for (const hash of await listDir(path.join(this.#dir, prefix))) {
        if (referenced.has(hash)) continue;
        const file = path.join(this.#dir, prefix, hash);
        try {
          if (now - (await fs.stat(file)).mtimeMs > graceMs) await fs.rm(file, { force: true });
        } catch {
          // removed by another process meanwhile
        }
      }
    }
  }
}
