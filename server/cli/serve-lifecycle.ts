// What a serving process and the supervisor both do: publish functions/ at start (each folder a
// tenant, its bindings.json its configuration) and wait for the signal that stops them.
import cluster from 'node:cluster';
import fs from 'node:fs';
import path from 'node:path';
import { CliError } from '../errors';
import type { Logger } from '../observe/server-log';
import type { DeploymentStore } from '../store/types';
import type { prepareDeployment } from '../tenants/prepare';
import type { TenantObserver } from '../tenants/observer';
import { applyFolderBindings, deployDirectory, folderBindingsFile } from '../deploy/directory';

export async function publishFunctions(
  dir: string,
  deps: {
    store: DeploymentStore;
    logger: Logger;
    observer: TenantObserver;
    prepare: (m: Parameters<typeof prepareDeployment>[0], f: Map<string, Buffer>) => Promise<Map<string, Buffer>>;
  },
): Promise<void> {
  const root = path.resolve(dir);
  let folders: string[];
  try {
    folders = fs
      .readdirSync(root, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => e.name);
  } catch (err) {
    throw new CliError(
      `--functions ${dir}: cannot read the folder (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  for (const name of folders.sort()) {
    try {
      const { manifest, stored } = await deployDirectory(deps.store, name, path.join(root, name), {
        logger: deps.logger,
        observer: deps.observer,
        prepare: deps.prepare,
      });
      const configured = await applyFolderBindings(deps.store, name, path.join(root, name));
      deps.logger.info(stored ? 'published function' : 'function unchanged', {
        tenant: name,
        deployment: manifest.id,
        folder: path.join(dir, name),
        ...(configured ? { bindings: folderBindingsFile } : {}),
      });
    } catch (err) {
      // one broken example must not keep the others from serving
      deps.logger.error('publishing function failed', {
        tenant: name,
        folder: path.join(dir, name),
        error: (err as Error).message,
      });
    }
  }
}

/** Waits for SIGTERM/SIGINT (or, in a worker, the supervisor going away), then runs `stop` once. */
export function onShutdown(logger: Logger, stop: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const once = (reason: string) => {
      if (stopping) return;
      stopping = true;
      logger.info('shutting down', { reason });
      stop().then(resolve, (err: Error) => {
        logger.error('shutdown failed', { error: err.message });
        resolve();
      });
    };
    process.once('SIGTERM', () => once('SIGTERM'));
    process.once('SIGINT', () => once('SIGINT'));
    if (cluster.isWorker) process.once('disconnect', () => once('supervisor gone'));
  });
}
