// What one tenant may keep in the store: a number of versions and a number of bytes over all of
// them (modules and source maps; the module count of one deployment is bounded at build time).
// Every upload is a new immutable version, so without a bound a tenant's deploy token could
// fill the machine's disk (four 9 MB uploads grew the data folder by 103 MB). Over a quota, the
// `prune` policy deletes the tenant's oldest inactive versions until the new one fits (its
// rollback history shrinks; the active version is never touched), and `refuse` answers 409
// (versions) or 413 (bytes) QUOTA_EXCEEDED and changes nothing.
import type { DeploySettings } from '../config';
import { DeployError } from '../errors';
import type { Logger } from '../observe/server-log';
import type { DeploymentManifest, DeploymentStore } from '../store/types';
import { formatBytes } from './limits';

export type Quota = Pick<DeploySettings, 'maxVersions' | 'maxStoredBytes' | 'quotaPolicy'>;

/** bytes a stored deployment takes: its files, or twice its modules for records older than the count */
export function storedBytes(manifest: DeploymentManifest): number {
  return manifest.storedBytes ?? manifest.size * 2;
}

/**
 * Makes room for a new deployment of `bytes` bytes in `tenant`'s quota: returns when it fits
 * (after pruning, under that policy), throws DeployError QUOTA_* when it cannot.
 */
export async function makeRoom(
  store: DeploymentStore,
  tenant: string,
  bytes: number,
  quota: Quota,
  logger?: Logger,
): Promise<void> {
  const { maxVersions, maxStoredBytes, quotaPolicy } = quota;
  if (bytes > maxStoredBytes) {
    throw new DeployError(
      'ISLET_DEPLOY_QUOTA_SIZE',
      `the deployment takes ${formatBytes(bytes)} stored, more than the tenant's whole storage quota of ` +
        `${formatBytes(maxStoredBytes)}`,
    );
  }
  const versions = await store.listDeployments(tenant); // newest first
  let count = versions.length + 1;
  let total = versions.reduce((sum, v) => sum + storedBytes(v), bytes);
  const fits = () => count <= maxVersions && total <= maxStoredBytes;
  if (fits()) return;
  const over = () =>
    count > maxVersions
      ? new DeployError(
          'ISLET_DEPLOY_QUOTA_VERSIONS',
          `tenant '${tenant}' keeps ${versions.length} versions, its quota is ${maxVersions} versions: ` +
            'delete old versions (DELETE /v1/tenants/<t>/deployments/<id>) before deploying',
        )
      : new DeployError(
          'ISLET_DEPLOY_QUOTA_SIZE',
          `tenant '${tenant}' would store ${formatBytes(total)}, more than its quota of ${formatBytes(maxStoredBytes)}: ` +
            'delete old versions before deploying',
        );
  if (quotaPolicy === 'refuse') throw over();
  const active = (await store.getTenant(tenant))?.active ?? null;
  for (const version of [...versions].reverse()) {
    if (fits()) break;
    if (version.id === active) continue;
    try {
      await store.deleteDeployment(tenant, version.id);
    } catch (error) {
      // activated or deleted by someone else meanwhile: keep going with the next one
      logger?.warn('pruning a deployment failed', { tenant, deployment: version.id, error: (error as Error).message });
      continue;
    }
    count--;
    total -= storedBytes(version);
    logger?.info('deployment pruned', { tenant, deployment: version.id, reason: 'quota', bytes: storedBytes(version) });
  }
  if (!fits()) throw over();
}
