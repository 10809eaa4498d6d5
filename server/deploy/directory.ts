// Publishing a function folder from the host's disk: the operator's path (`npm start` publishing
// functions/, `islet dev`). Unlike API uploads, bare imports may fall back to a node_modules
// folder on the host (by default the nearest one at or above the folder). A folder whose build hashes like the tenant's active deployment is not
// stored again, so restarting the server does not pile up identical versions.
import fs from 'node:fs';
import path from 'node:path';
import type { DeploymentManifest, DeploymentStore } from '../store/types';
import { build } from './build';
import { DeployError } from '../errors';
import { publish, type PublishDeps, type PublishOptions } from './publish';

const skipped = new Set(['.git', '.DS_Store', '.islet']);

/**
 * Every regular file under `dir` (symbolic links and .git left out), path -> bytes.
 * `skipNodeModules` leaves the top node_modules folder unread, for builds that read what they
 * need from it lazily (BuildOptions.hostNodeModules).
 */
export function readDirectory(dir: string, skipNodeModules = false): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      if (skipped.has(entry.name)) continue;
      if (skipNodeModules && rel === '' && entry.name === 'node_modules') continue;
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) files.set(child, fs.readFileSync(path.join(dir, child)));
    }
  };
  if (fs.statSync(dir).isFile()) {
    files.set(path.basename(dir), fs.readFileSync(dir));
    return files;
  }
  walk('');
  return files;
}

/** the nearest node_modules folder at or above `dir`, where Node itself would look for packages */
export function nearestNodeModules(dir: string): string | undefined {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const candidate = path.join(d, 'node_modules');
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(d) === d) return undefined;
  }
}

export interface DirectoryDeploy {
  manifest: DeploymentManifest;
  /** false when the folder matched the active deployment and nothing was stored */
  stored: boolean;
}

export async function deployDirectory(
  store: DeploymentStore,
  tenant: string,
  dir: string,
  options: PublishOptions & Omit<PublishDeps, 'store'> = {},
): Promise<DirectoryDeploy> {
  let files: Map<string, Buffer>;
  try {
    files = readDirectory(dir);
  } catch (error) {
    throw new DeployError('ISLET_DEPLOY_UPLOAD_EMPTY', `cannot read function folder ${dir}: ${(error as Error).message}`);
  }
  // bare imports the folder itself cannot satisfy come from node_modules above it, as in Node
  if (options.hostNodeModules === undefined) {
    const found = nearestNodeModules(fs.statSync(dir).isFile() ? path.dirname(dir) : dir);
    if (found) options = { ...options, hostNodeModules: found };
  }
  const current = await store.getTenant(tenant);
  if (current?.active) {
    const active = await store.getDeployment(tenant, current.active);
    const built = await build(tenant, files, options);
    if (active && active.hash === built.manifest.hash) return { manifest: active, stored: false };
  }
  const { manifest } = await publish({ ...options, store }, tenant, files, options);
  return { manifest, stored: true };
}
