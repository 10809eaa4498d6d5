// The directory store's blob garbage collection: blobs are shared by every deployment with the
// same bytes, so one is removed only when no deployment record names it any more.
import path from 'node:path';
import { listDir, readJson } from './atomic';
import type { FsBlobs } from './fs-blobs';

interface DeploymentRecord {
  files: Record<string, string>;
}

/** calls `visit` with the file hashes of every deployment record until it returns false */
async function eachRecord(root: string, visit: (hashes: string[]) => boolean): Promise<void> {
  const tenantsDir = path.join(root, 'tenants');
  for (const tenant of await listDir(tenantsDir)) {
    const dir = path.join(tenantsDir, tenant, 'deployments');
    for (const name of await listDir(dir)) {
      const record = await readJson<DeploymentRecord>(path.join(dir, name)).catch(() => null);
      if (record && !visit(Object.values(record.files))) return;
    }
  }
}

/**
 * Removes those of `hashes` (the files of a deployment just deleted) that no record names any
 * more, at once rather than after the garbage collection's grace period: a tenant pruned to its
 * storage quota must free the disk now. The caller holds the write lock: no record is written
 * meanwhile, and an upload that found one of these blobs present before the lock puts it back
 * under the lock before its record names it (FsBlobs.restoreMissing).
 */
export async function dropUnreferenced(root: string, blobs: FsBlobs, hashes: string[]): Promise<void> {
  const unreferenced = new Set(hashes);
  await eachRecord(root, (named) => {
    for (const hash of named) unreferenced.delete(hash);
    return unreferenced.size > 0;
  });
  for (const hash of unreferenced) await blobs.remove(hash);
}

/** removes blobs no deployment names any more (older than the grace period) */
export async function collectGarbage(root: string, blobs: FsBlobs): Promise<void> {
  const referenced = new Set<string>();
  await eachRecord(root, (named) => {
    for (const hash of named) referenced.add(hash);
    return true;
  });
  await blobs.collectGarbage(referenced);
}
