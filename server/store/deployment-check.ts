// The checks both stores make before a deployment is written: names that stay inside the store,
// and files that match what the manifest says about them (a module missing, or whose bytes do not
// hash to its recorded sha256, is refused rather than stored to fail at load time).
import { createHash } from 'node:crypto';
import { StoreError } from '../errors';
import { checkId, checkModulePath, checkTenantName } from './names';
import type { DeploymentManifest } from './types';

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** validates a deployment about to be stored; returns path -> sha256 of every file */
export function checkDeployment(manifest: DeploymentManifest, files: Map<string, Buffer>): Record<string, string> {
  checkTenantName(manifest.tenant);
  checkId(manifest.id, 'deployment id');
  const hashes: Record<string, string> = {};
  for (const [p, data] of files) hashes[checkModulePath(p)] = sha256(data);
  for (const mod of manifest.modules) {
    if (!files.has(mod.path))
      throw new StoreError('ISLET_STORE_CORRUPT', `module '${mod.path}' is in the manifest but not among the files`);
    if (hashes[mod.path] !== mod.sha256)
      throw new StoreError('ISLET_STORE_CORRUPT', `module '${mod.path}' does not match its sha256 in the manifest`);
    if (mod.sourceMap && !files.has(mod.sourceMap)) {
      throw new StoreError(
        'ISLET_STORE_CORRUPT',
        `source map '${mod.sourceMap}' of '${mod.path}' is not among the files`,
      );
    }
  }
  if (!files.has(manifest.entry))
    throw new StoreError('ISLET_STORE_CORRUPT', `entry '${manifest.entry}' is not among the files`);
  return hashes;
}
