// Crash-safe file writes. A write goes to a temp file in the store's tmp/ folder (same
// filesystem), is fsynced, renamed over its destination, and the destination folder is fsynced
// so the rename itself survives a power cut. A reader therefore sees the old bytes or the new
// ones, never a torn file, whatever moment the process dies at.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export function tempName(tmpDir: string): string {
  return path.join(tmpDir, `${process.pid}-${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`);
}

/**
 * Writes `data` to `file` atomically and durably; creates the parent folder when missing.
 * `syncDir: false` leaves the folder's fsync to the caller, who batches many writes into one
 * folder and must fsync it before anything that depends on them is written. `sync: false` (with
 * `syncDir: false`) keeps the atomic rename but skips every fsync: for caches, whose loss costs a
 * recomputation and which are checked when read.
 */
export async function writeFileAtomic(
  tmpDir: string,
  file: string,
  data: Buffer | string,
  syncDir = true,
  sync = true,
): Promise<void> {
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true });
  const tmp = tempName(tmpDir);
  const handle = await fs.open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(data);
    if (sync) await handle.sync();
  } catch (error) {
    await handle.close().catch(() => {});
    await fs.rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await fs.rename(tmp, file);
  } catch (error) {
    await fs.rm(tmp, { force: true });
    throw error;
  }
  if (syncDir) await fsyncDir(dir);
}

/** Reads a file, or null when it does not exist. */
export async function readIfExists(file: string): Promise<Buffer | null> {
  try {
    return await fs.readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

export async function readJson<T>(file: string): Promise<T | null> {
  const data = await readIfExists(file);
  return data === null ? null : (JSON.parse(data.toString('utf8')) as T);
}

export async function listDir(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
