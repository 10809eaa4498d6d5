// Shared by the bindings suites: a real islet (serve-harness.ts) and helpers to deploy a folder of
// test/fixtures/bindings (or files given inline) the way `islet deploy` does, with its wrangler
// file, and to wait until the tenant serves the new deployment.
import path from 'node:path';
import { resolveBindings } from '../../server/bindings/resolve';
import { readDirectory } from '../../server/deploy/directory';
import { publish } from '../../server/deploy/publish';
import { prepareDeployment } from '../../server/tenants/prepare';
import { eventually, type Harness, repoRoot } from './serve-harness';

export const bindingFixtures = path.join(repoRoot, 'test', 'fixtures', 'bindings');

/** publishes `files` (a fixture folder's name, or path -> source) as `tenant`; resolves once it serves them */
export async function deployProject(
  h: Harness,
  tenant: string,
  files: string | Record<string, string>,
  options: { entry?: string } = {},
): Promise<{ id: string; warnings: string[] }> {
  const map =
    typeof files === 'string'
      ? readDirectory(path.join(bindingFixtures, files))
      : new Map(Object.entries(files).map(([p, code]) => [p, Buffer.from(code)]));
  const prepare = (m: Parameters<typeof prepareDeployment>[0], f: Map<string, Buffer>) =>
    prepareDeployment(m, f, { memoryMb: h.config.limits.memoryMb });
  const { manifest } = await publish({ store: h.serving.store, prepare }, tenant, map, options);
  await eventually(async () => (await h.serving.directory.get(tenant))?.manifest.id === manifest.id);
  return { id: manifest.id, warnings: manifest.warnings };
}

/** sets a tenant's declared bindings in the store; resolves once serving sees them */
export async function setBindings(h: Harness, tenant: string, bindings: Record<string, unknown>): Promise<void> {
  const store = h.serving.store;
  const record = (await store.getTenant(tenant)) ?? { name: tenant, createdAt: new Date().toISOString(), active: null };
  await store.putTenant({ ...record, bindings });
  await eventually(async () => {
    const state = await h.serving.directory.get(tenant);
    if (!state) return true;
    return JSON.stringify(state.bindings) === JSON.stringify(resolveBindings(bindings, state.manifest.bindings));
  });
}
