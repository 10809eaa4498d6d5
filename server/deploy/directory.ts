// Publishing a function folder from the host's disk: the operator's path (`npm start` publishing
// functions/, `islet dev`). Unlike API uploads, bare imports may fall back to a node_modules
// folder on the host (by default the nearest one at or above the folder). A folder whose build
// hashes like the tenant's active deployment is not stored again, so restarting the server does
// not pile up identical versions. A folder's `bindings.json` is the tenant's own configuration
// (what `PUT /v1/tenants/{t}/bindings` sets: e.g. `callers`, who may call it through a service
// binding), applied when `--functions` publishes the folder.
import fs from 'node:fs';
import path from 'node:path';
import { checkTenantDeclarations, isEmpty } from '../bindings/declarations';
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
    throw new DeployError(
      'ISLET_DEPLOY_UPLOAD_EMPTY',
      `cannot read function folder ${dir}: ${(error as Error).message}`,
    );
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

/** the file of a function folder that holds its tenant's configuration */
export const folderBindingsFile = 'bindings.json';

/**
 * Applies `dir`'s bindings.json (if any) as tenant `tenant`'s configuration; true when it changed
 * it. A file that is not JSON, or declares something invalid, is a DeployError naming the file
 * and the key.
 */
export async function applyFolderBindings(store: DeploymentStore, tenant: string, dir: string): Promise<boolean> {
  const file = path.join(dir, folderBindingsFile);
  if (!fs.existsSync(file)) return false;
  let body: unknown;
  try {
    body = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new DeployError('ISLET_DEPLOY_BAD_CONFIG', `${file}: not JSON (${(error as Error).message})`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new DeployError('ISLET_DEPLOY_BAD_CONFIG', `${file}: expected a JSON object of bindings`);
  const { declarations, problems } = checkTenantDeclarations(body as Record<string, unknown>);
  if (problems.length) throw new DeployError('ISLET_DEPLOY_BAD_CONFIG', `${file}: ${problems.join('; ')}`);
  const record = await store.getTenant(tenant);
  if (!record) return false;
  const next = isEmpty(declarations) ? undefined : (declarations as Record<string, unknown>);
  if (JSON.stringify(record.bindings ?? null) === JSON.stringify(next ?? null)) return false;
  const updated = { ...record };
  if (next) updated.bindings = next;
  else delete updated.bindings;
  await store.putTenant(updated);
  return true;
}
