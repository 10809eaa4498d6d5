// Deploy-time check and code-cache production (the deploy room's `prepare` hook): the deployment
// is loaded exactly as a cold start would load it, in a fresh isolate that is thrown away, so a
// missing fetch handler, top-level code that throws or never finishes, or an unresolvable import
// fails the upload instead of the first request; and the code caches it produces are stored
// beside the deployment so even its first cold start compiles from cache.
import type { DeploymentManifest } from '../store/types';
import { createTenantIsolate } from '../host/bootstrap-snapshot';
import { loadDeployment, type ModuleSource } from './loader';
import { defaultCreateSandbox, type CreateSandbox } from './sandbox-api';

export interface PrepareOptions {
  /** isolate memory limit (MB); default 128 */
  memoryMb?: number;
  /** wall time top-level code may run (ms); default 1000 */
  startupTimeoutMs?: number;
  /** CPU time top-level code may use (ms); default: the wall time */
  startupCpuMs?: number;
  createSandbox?: CreateSandbox;
}

/**
 * Loads the deployment once; resolves with module path -> V8 code cache (valid for this process's
 * V8, `process.versions.v8`); throws DeploymentLoadError (code + message naming the file) when it cannot serve.
 */
export async function prepareDeployment(
  manifest: DeploymentManifest,
  files: Map<string, Buffer>,
  options: PrepareOptions = {},
): Promise<Map<string, Buffer>> {
  const codeCaches = new Map<string, Buffer>();
  const source: ModuleSource = {
    read: async (p) => {
      const file = files.get(p);
      if (!file) throw new Error(`module ${p} is listed in the manifest but missing from the upload`);
      return file;
    },
    readCache: async () => null,
    writeCache: (p, data) => codeCaches.set(p, data),
  };
  // Atomics.wait would sleep outside every CPU limit (see tenant-isolate.ts)
  const isolate = createTenantIsolate({
    memoryLimit: options.memoryMb ?? 128,
    allowAtomicsWait: false,
    // the addon's stuck-run line names the isolate by it (cluster/worker-death.ts reads it)
    label: `tenant:${manifest.tenant}`,
  });
  try {
    const sandbox = await (options.createSandbox ?? defaultCreateSandbox())(isolate, {
      tenant: manifest.tenant,
      deployment: manifest.id,
      env: {},
      limits: {
        cpuMs: 1000,
        wallMs: 1000,
        requestBodyBytes: 0,
        responseBodyBytes: 0,
        subrequests: 0,
        subrequestTimeoutMs: 1,
        subrequestResponseBytes: 0,
        logBytes: 4096,
      },
      egress: { allow: [] },
      log: () => {},
    });
    try {
      await loadDeployment(isolate, sandbox, manifest, source, {
        startupTimeoutMs: options.startupTimeoutMs ?? 1000,
        startupCpuMs: options.startupCpuMs,
      });
    } finally {
      sandbox.dispose();
    }
  } finally {
    if (!isolate.isDisposed) isolate.dispose();
  }
  return codeCaches;
}
