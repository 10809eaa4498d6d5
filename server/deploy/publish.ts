// One deployment from files to store: build and validate, let the serving side load it once in a
// fresh isolate (the `prepare` hook: rejects code without a fetch handler or whose top-level
// code throws or hangs, and returns V8 code caches), make room for it in the tenant's storage
// quota (deploy/quota.ts), store it, store its code caches, and activate it unless asked not to.
// Nothing is written before every check has passed.
import type { Logger } from '../observe/server-log';
import type { DeploymentManifest, DeploymentStore } from '../store/types';
import type { TenantObserver } from '../tenants/observer';
import { build, type BuildOptions } from './build';
import type { Builder } from './build-pool';
import { makeRoom, type Quota } from './quota';
import { boundMessage, boundStack } from '../tenants/tenant-text';
import { DeployError } from '../errors';

/** loads a built deployment in a fresh isolate; resolves with module path -> V8 code cache */
export type PrepareHook = (manifest: DeploymentManifest, files: Map<string, Buffer>) => Promise<Map<string, Buffer>>;

export interface PublishDeps {
  store: DeploymentStore;
  logger?: Logger;
  observer?: TenantObserver;
  prepare?: PrepareHook;
  /** where the build runs (deploy/build-pool.ts: a child process); default: in this process */
  builder?: Builder;
}

export interface PublishOptions extends BuildOptions {
  /** the tenant's storage quota; default: none (the operator's own folders, islet dev) */
  quota?: Quota;
  /** default true */
  activate?: boolean;
  /** who deploys, for the log and the manifest's `author` ('operator', 'token:<id>', 'functions/') */
  actor?: string;
  /** what changed, kept in the manifest */
  message?: string;
  /** the route overlap policy the activation claims routes with (server/deploy/routes.ts) */
  routeConflicts?: (mine: string, theirs: string) => boolean;
}

export interface Published {
  manifest: DeploymentManifest;
  active: boolean;
  /** the revision of the last store write the publication made (read-your-writes waits for it) */
  revision: number;
}

/** the V8 version code caches are keyed by: the one of this process, which serves them */
export const codeCacheVersion = process.versions.v8;

export async function publish(
  deps: PublishDeps,
  tenant: string,
  files: Map<string, Buffer>,
  options: PublishOptions = {},
): Promise<Published> {
  const started = process.hrtime.bigint();
  try {
    const built = await (deps.builder ?? build)(tenant, files, buildOptions(options));
    // who and why describe this upload, not its content: set after the build, outside the hash
    if (options.actor) built.manifest.author = options.actor;
    if (options.message) built.manifest.message = options.message;
    let caches = new Map<string, Buffer>();
    if (deps.prepare) {
      try {
        caches = await deps.prepare(built.manifest, built.files);
      } catch (error) {
        // Errors with an ISLET_ code are the tenant's (no handler, top-level throw, hang, OOM)
        // and are shown to them; anything else is ours and stays a 500 with details in the log.
        const code = (error as { code?: unknown })?.code;
        if (typeof code !== 'string' || !code.startsWith('ISLET_')) throw error;
        const stack = (error as { tenantStack?: string }).tenantStack;
        // both are the tenant's text: cut before they go into the answer and the log
        const where = stack ? `\n${boundStack(stack, { maxBytes: 2048, maxFrames: 5 })}` : '';
        const message = boundMessage((error as Error).message, 4096);
        throw new DeployError(
          'ISLET_DEPLOY_DEPLOYMENT_REJECTED',
          `the deployment failed to load (${code}): ${message}${where}`,
        );
      }
    }
    if (!(await deps.store.getTenant(tenant))) {
      await deps.store.putTenant({ name: tenant, createdAt: new Date().toISOString(), active: null });
    }
    if (options.quota) {
      await makeRoom(deps.store, tenant, built.manifest.storedBytes ?? 0, options.quota, deps.logger);
    }
    let revision = await deps.store.putDeployment(built.manifest, built.files);
    // a few at a time: thousands of modules have thousands of caches
    const pending = [...caches].filter(([modulePath, data]) => built.files.has(modulePath) && data.length > 0);
    await Promise.all(
      Array.from({ length: Math.min(16, pending.length) }, async () => {
        for (let next = pending.shift(); next; next = pending.shift()) {
          await deps.store.writeCodeCache(tenant, built.manifest.id, next[0], codeCacheVersion, next[1]);
        }
      }),
    );
    const activate = options.activate !== false;
    if (activate) {
      revision = await deps.store.activate(tenant, built.manifest.id, { conflicts: options.routeConflicts });
    }
    deps.observer?.deployment(tenant, 'success');
    deps.logger?.info('deployment stored', {
      tenant,
      deployment: built.manifest.id,
      hash: built.manifest.hash,
      modules: built.manifest.modules.length,
      bytes: built.manifest.size,
      codeCaches: caches.size,
      active: activate,
      ms: Number(process.hrtime.bigint() - started) / 1e6,
      ...(options.actor ? { by: options.actor } : {}),
    });
    return { manifest: built.manifest, active: activate, revision };
  } catch (error) {
    deps.observer?.deployment(tenant, 'failure');
    if (error instanceof DeployError) {
      deps.logger?.info('deployment refused', {
        tenant,
        code: error.code,
        error: error.message,
        ...(options.actor ? { by: options.actor } : {}),
      });
    }
    throw error;
  }
}

/** the options a build needs (they cross to a build process: no functions) */
function buildOptions(options: PublishOptions): BuildOptions {
  const out: BuildOptions = {};
  for (const key of [
    'entry',
    'bundle',
    'routes',
    'compatibility',
    'limits',
    'maxModules',
    'hostNodeModules',
  ] as const) {
    if (options[key] !== undefined) (out as Record<string, unknown>)[key] = options[key];
  }
  return out;
}
