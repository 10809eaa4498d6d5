// Opens the store `store.url` names: `file:///path` (or empty: the data folder) is the directory
// store of one machine; `postgres://` (or `postgresql://`) the shared store of many. The
// PostgreSQL store applies missing schema migrations before it answers, and keeps its per-node
// cache (module blobs, code caches, last known records) under the data folder.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config';
import { FsDeploymentStore } from './fs';
import { isUnavailable, redactUrl, type SslMode } from './postgres/connect';
import { nodeCacheDir, PostgresDeploymentStore } from './postgres/store';
import type { DeploymentStore } from './types';

export interface OpenStoreOptions {
  /** the node's data folder: the directory store itself, or the PostgreSQL store's node cache */
  dataDir: string;
  poolSize?: number;
  sslMode?: SslMode;
  sslCaFile?: string;
  /** ISLET_SECRET_KEY (PostgreSQL: encrypts tenant secrets) */
  secretKey?: string;
  /** slow poll of change feeds (ms) */
  pollMs?: number;
  /** false: do not apply migrations now (they still run before the first query) */
  migrate?: boolean;
  /** told when the database cannot be reached at open (the store opens degraded) */
  onWarning?: (message: string, fields: Record<string, unknown>) => void;
}

export type StoreKind = 'fs' | 'postgres';

export function storeKind(url: string): StoreKind {
  if (url === '' || url.startsWith('file:')) return 'fs';
  if (/^postgres(ql)?:\/\//.test(url)) return 'postgres';
  throw new Error(
    `store.url: '${redactUrl(url)}' is neither file:///<folder> nor postgres://user:password@host:port/database`,
  );
}

/** the folder of a `file:` URL (empty: `dataDir`) */
export function fileStorePath(url: string, dataDir: string): string {
  return url === '' ? path.resolve(dataDir) : fileURLToPath(url);
}

export async function openStore(url: string, options: OpenStoreOptions): Promise<DeploymentStore> {
  if (storeKind(url) === 'fs') return new FsDeploymentStore(fileStorePath(url, options.dataDir));
  const store = new PostgresDeploymentStore({
    url,
    poolSize: options.poolSize,
    sslMode: options.sslMode,
    sslCaFile: options.sslCaFile || undefined,
    secretKey: options.secretKey || undefined,
    pollMs: options.pollMs,
    cacheDir: nodeCacheDir(options.dataDir),
  });
  if (options.migrate === false) return store;
  try {
    const result = await store.migrate();
    if (result.newer) {
      options.onWarning?.('the database schema is newer than this islet: finish upgrading the other nodes', {
        version: result.version,
      });
    }
    await store.currentRevision();
  } catch (error) {
    if (!isUnavailable(error)) {
      await store.close().catch(() => {});
      throw error;
    }
    // a node that restarts while PostgreSQL is down serves what its node cache holds
    options.onWarning?.('the store cannot be reached; serving from the node cache until it can', {
      error: (error as Error).message,
    });
  }
  return store;
}

/** the store `config` names (store.url, its TLS and pool settings, the secret key) */
export function openConfiguredStore(
  config: Config,
  onWarning?: OpenStoreOptions['onWarning'],
): Promise<DeploymentStore> {
  return openStore(config.store.url, {
    dataDir: config.dataDir,
    poolSize: config.store.poolSize,
    sslMode: config.store.sslMode,
    sslCaFile: config.store.sslCaFile,
    secretKey: config.store.secretKey,
    onWarning,
  });
}
