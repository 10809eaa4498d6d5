// Copies everything from one store to another (`islet store migrate --from … --to …`): tenants
// with their limits and bindings, every deployment with its files, env and secrets, deploy tokens, custom
// hostnames, and the active pointers. Through the DeploymentStore interface only, so any store can be either side.
//
// Idempotent and resumable: what the target already holds is compared, not written again (a
// deployment present in both must have the same files), so a run killed half-way is finished by
// running it again. Deployments go oldest first, each in one write; pointers go after the
// deployments they name. Every file is hashed when read from the source and again when read
// back from the target.
import { isDeepStrictEqual } from 'node:util';
import { sha256 } from './deployment-check';
import { isIsletError } from '../errors';
import type { DeploymentManifest, DeploymentStore, TenantRecord } from './types';

export interface CopyReport {
  tenants: { copied: number; present: number };
  deployments: { copied: number; present: number };
  env: { copied: number; present: number };
  tokens: { copied: number; present: number };
  hostnames: { copied: number; present: number };
  activations: { copied: number; present: number };
  /** files read back from the target and found to match their hash */
  verifiedFiles: number;
  /** what could not be copied or did not verify; empty when the copy is complete */
  problems: string[];
}

export interface CopyOptions {
  /** called after each tenant */
  onTenant?: (tenant: string, done: number, total: number) => void;
}

const counter = () => ({ copied: 0, present: 0 });

async function readVerified(
  store: DeploymentStore,
  manifest: DeploymentManifest,
  hashes: Record<string, string>,
): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const [p, hash] of Object.entries(hashes)) {
    const data = await store.readFile(manifest.tenant, manifest.id, p);
    if (sha256(data) !== hash)
      throw new Error(
        `file '${p}' of deployment '${manifest.id}' of tenant '${manifest.tenant}' ` +
          'does not match its sha256 in the source',
      );
    files.set(p, data);
  }
  return files;
}

export async function copyStore(
  from: DeploymentStore,
  to: DeploymentStore,
  options: CopyOptions = {},
): Promise<CopyReport> {
  const report: CopyReport = {
    tenants: counter(),
    deployments: counter(),
    env: counter(),
    tokens: counter(),
    hostnames: counter(),
    activations: counter(),
    verifiedFiles: 0,
    problems: [],
  };
  const tenants = await from.listTenants();
  let done = 0;
  for (const tenant of tenants) {
    try {
      await copyTenant(from, to, tenant, report);
    } catch (error) {
      report.problems.push(`tenant '${tenant.name}': ${(error as Error).message}`);
    }
    options.onTenant?.(tenant.name, ++done, tenants.length);
  }
  return report;
}

async function copyTenant(
  from: DeploymentStore,
  to: DeploymentStore,
  tenant: TenantRecord,
  report: CopyReport,
): Promise<void> {
  const name = tenant.name;
  const there = await to.getTenant(name);
  const same =
    there &&
    isDeepStrictEqual(there.limits ?? {}, tenant.limits ?? {}) &&
    isDeepStrictEqual(there.bindings ?? {}, tenant.bindings ?? {});
  if (!same) {
    await to.putTenant({
      name,
      createdAt: tenant.createdAt,
      active: null,
      ...(tenant.limits ? { limits: tenant.limits } : {}),
      ...(tenant.bindings ? { bindings: tenant.bindings } : {}),
    });
    report.tenants.copied++;
  } else report.tenants.present++;

  // oldest first, as they were made
  for (const manifest of (await from.listDeployments(name)).reverse()) {
    const hashes = await from.deploymentFiles(name, manifest.id);
    if (await to.getDeployment(name, manifest.id)) {
      report.deployments.present++;
    } else {
      try {
        await to.putDeployment(manifest, await readVerified(from, manifest, hashes));
        report.deployments.copied++;
      } catch (error) {
        if (!isIsletError(error, 'ISLET_STORE_CONFLICT')) throw error;
        report.deployments.present++; // another run copied it meanwhile
      }
    }
    const copied = await to.deploymentFiles(name, manifest.id);
    if (!isDeepStrictEqual(copied, hashes)) {
      report.problems.push(
        `deployment '${manifest.id}' of tenant '${name}' has other files in the target than in the source`,
      );
      continue;
    }
    for (const [p, hash] of Object.entries(copied)) {
      if (sha256(await to.readFile(name, manifest.id, p)) !== hash) {
        report.problems.push(
          `file '${p}' of deployment '${manifest.id}' of tenant '${name}' does not match its sha256 in the target`,
        );
      } else report.verifiedFiles++;
    }
  }

  const env = await from.getEnv(name);
  if (isDeepStrictEqual(await to.getEnv(name), env)) report.env.present++;
  else {
    await to.putEnv(name, env);
    report.env.copied++;
  }

  const tokens = new Map((await to.listTokens(name)).map((t) => [t.id, t]));
  for (const token of await from.listTokens(name)) {
    if (isDeepStrictEqual(tokens.get(token.id), token)) report.tokens.present++;
    else {
      await to.putToken(token);
      report.tokens.copied++;
    }
  }

  const hostnames = new Map((await to.listHostnames(name)).map((h) => [h.hostname, h]));
  for (const hostname of await from.listHostnames(name)) {
    if (isDeepStrictEqual(hostnames.get(hostname.hostname), hostname)) report.hostnames.present++;
    else {
      await to.putHostname(hostname);
      report.hostnames.copied++;
    }
  }

  if (tenant.active && there?.active !== tenant.active) {
    try {
      await to.activate(name, tenant.active);
      report.activations.copied++;
    } catch (error) {
      if (!isIsletError(error, 'ISLET_STORE_ROUTE_TAKEN')) throw error;
      report.problems.push(`tenant '${name}': deployment '${tenant.active}' could not be activated: ${error.message}`);
    }
  } else if (tenant.active) report.activations.present++;
}
