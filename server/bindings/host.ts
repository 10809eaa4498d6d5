// The node's binding services, made once per process by `islet serve` (and `islet dev`): the KV
// backend, the Cache API's storage, the service-binding dispatcher and the binding metrics. The
// tenant layer asks it, for each isolate it starts, for that tenant's view of them
// (TenantBindings), which the sandbox's binding ops use and nothing else.
import path from 'node:path';
import type { Config, Limits } from '../config';
import type { Logger } from '../observe/server-log';
import type { DeploymentStore } from '../store/types';
import type { ServiceCaller, TenantBindings } from './context';
import type { KvBackend } from './kv/backend';
import { SqliteKvBackend } from './kv/sqlite';
import { SqliteResponseCache, type ResponseCache } from './cache/store';
import { type BindingObserver, nullBindingObserver } from './observer';
import type { ResolvedBindings } from './resolve';

const MB = 1024 * 1024;

export interface BindingHostParts {
  kv: KvBackend | null;
  cache: ResponseCache | null;
  observer?: BindingObserver;
  /** config cache.maxEntryMb in bytes */
  cacheEntryBytes: number;
}

export class BindingHost {
  readonly kv: KvBackend | null;
  readonly cache: ResponseCache | null;
  readonly observer: BindingObserver;
  readonly #cacheEntryBytes: number;
  /** set once the tenant layer exists (the dispatcher needs the pool, which needs this) */
  services: ServiceCaller | null = null;

  constructor(parts: BindingHostParts) {
    this.kv = parts.kv;
    this.cache = parts.cache;
    this.observer = parts.observer ?? nullBindingObserver;
    this.#cacheEntryBytes = parts.cacheEntryBytes;
  }

  /** the node's binding services on local disk: `<dataDir>/kv.sqlite` and `<dataDir>/cache.sqlite` */
  static open(config: Config, observer?: BindingObserver): BindingHost {
    return new BindingHost({
      kv: new SqliteKvBackend(path.join(config.dataDir, 'kv.sqlite')),
      cache: new SqliteResponseCache({
        file: path.join(config.dataDir, 'cache.sqlite'),
        memoryBytes: config.cache.memoryMb * MB,
        diskBytes: config.cache.diskMb * MB,
      }),
      observer,
      cacheEntryBytes: config.cache.maxEntryMb * MB,
    });
  }

  /** one tenant's view: its namespaces, caches and services, under its limits */
  forTenant(tenant: string, bindings: ResolvedBindings, limits: Limits): TenantBindings {
    return {
      tenant,
      resolved: bindings,
      limits: {
        kvBytes: limits.kvBytes ?? 0,
        kvKeys: limits.kvKeys ?? 0,
        bindingOps: limits.bindingOps ?? 0,
        cacheBytes: limits.cacheBytes ?? 0,
        cacheEntryBytes: this.#cacheEntryBytes,
      },
      kv: this.kv,
      cache: this.cache,
      services: this.services,
      observer: this.observer,
    };
  }

  /**
   * Drops a deleted tenant's KV data: on every change of a tenant that is gone from the store
   * (each process of the node may do it; dropping twice is harmless). Returns the unsubscribe.
   */
  followDeletions(store: DeploymentStore, logger: Logger): () => void {
    return store.watch((change) => {
      if (change.kind !== 'tenant' || !this.kv) return;
      store
        .getTenant(change.tenant)
        .then(async (record) => {
          if (record === null) await this.kv?.dropTenant(change.tenant);
        })
        .catch((error: Error) =>
          logger.warn('kv: dropping a deleted tenant failed', { tenant: change.tenant, error: error.message }),
        );
    });
  }

  async close(): Promise<void> {
    await this.kv?.close();
    this.cache?.close();
  }
}
