// What serving needs to know about a tenant, read from the store once and kept until the store
// says it changed: the active deployment's manifest, env, resolved limits and bindings, and custom routes
// (pushed into the router). Every change bumps `version`, so the pool starts a new isolate for
// the new state while the old one drains. Changes arrive through apply(), in revision order,
// from this process's StoreFollower (store-follower.ts); apply() resolves once the new state is
// what a request gets, so a follower can say "applied" and mean it.
import { LRUCache } from 'lru-cache';
import type { ChangeKind, DeploymentManifest, DeploymentStore, StoreChange } from '../store/types';
import type { Config, Limits } from '../config';
import { resolveLimits } from '../config';
import type { Logger } from '../observe/server-log';
import { resolveBindings, type ResolvedBindings } from '../bindings/resolve';

/** Where the custom routes of each tenant's active deployment go (the front's TenantRouter). */
export interface RouteTable {
  /** replaces the tenant's routes; throws on a malformed pattern, changing nothing */
  setRoutes(tenant: string, patterns: readonly string[]): void;
  removeTenant(tenant: string): void;
}

export interface TenantState {
  tenant: string;
  manifest: DeploymentManifest;
  /** what the function sees in `env` besides binding objects: declared vars, then env vars, then secrets */
  env: Record<string, unknown>;
  limits: Limits;
  /** KV namespaces, services, crons... (the tenant's configuration merged with the deployment's) */
  bindings: ResolvedBindings;
  /** increases on every change of this tenant (deployment, env, limits) */
  version: number;
}

type Entry = TenantState | 'none';

/** what serving reloads a tenant for; deployment uploads and token changes leave its state as it is */
const servedKinds: ReadonlySet<ChangeKind> = new Set(['activation', 'env', 'tenant', 'limits']);

export class TenantDirectory {
  readonly #store: DeploymentStore;
  readonly #config: Config;
  readonly #router: RouteTable;
  readonly #logger: Logger;
  /** resolved states (hot path: no await for a known tenant); 'none' remembers unknown names */
  readonly #states: LRUCache<string, Entry>;
  readonly #loading = new Map<string, Promise<TenantState | null>>();
  readonly #listeners = new Set<(tenant: string) => void>();
  #versions = 0;
  /** content signature and version of each existing tenant's last state */
  readonly #signatures = new Map<string, { signature: string; version: number }>();
  /** counts store changes, to detect a read that raced with one */
  #changes = 0;

  constructor(deps: { store: DeploymentStore; config: Config; router: RouteTable; logger: Logger }) {
    this.#store = deps.store;
    this.#config = deps.config;
    this.#router = deps.router;
    this.#logger = deps.logger;
    this.#states = new LRUCache({ max: Math.max(10_000, deps.config.pool.maxIsolates * 2) });
  }

  /**
   * Loads every active tenant (so custom routes work from the first request). Whoever follows
   * the store from here on reads its revision BEFORE this call, so no change falls in between.
   */
  async start(): Promise<void> {
    const tenants = await this.#store.listTenants();
    await Promise.all(tenants.filter((t) => t.active).map((t) => this.#load(t.name)));
  }

  /** called with the tenant name after its state changed (the pool retires the old isolate) */
  onChange(listener: (tenant: string) => void): void {
    this.#listeners.add(listener);
  }

  /** The cached state, or undefined when it must be loaded (then call load). */
  peek(tenant: string): TenantState | null | undefined {
    const entry = this.#states.get(tenant);
    return entry === 'none' ? null : entry;
  }

  /** The tenant's state, null when it does not exist or has no active deployment. */
  get(tenant: string): TenantState | null | Promise<TenantState | null> {
    const known = this.peek(tenant);
    return known !== undefined ? known : this.#load(tenant);
  }

  #load(tenant: string): Promise<TenantState | null> {
    let pending = this.#loading.get(tenant);
    if (!pending) {
      pending = this.#read(tenant).finally(() => this.#loading.delete(tenant));
      this.#loading.set(tenant, pending);
    }
    return pending;
  }

  async #read(tenant: string): Promise<TenantState | null> {
    const started = this.#changes;
    const record = await this.#store.getTenant(tenant);
    const manifest = record?.active ? await this.#store.getDeployment(tenant, record.active) : null;
    // A change arrived while reading: what was read may be stale, read again.
    if (this.#changes !== started) return this.#read(tenant);
    if (!record || !manifest) {
      this.#states.set(tenant, 'none');
      this.#signatures.delete(tenant);
      this.#router.removeTenant(tenant);
      return null;
    }
    const env = await this.#store.getEnv(tenant);
    if (this.#changes !== started) return this.#read(tenant);
    const limits = resolveLimits(this.#config, tenant, record.limits, (problem) =>
      this.#logger.warn('ignoring invalid tenant limit', { tenant, problem }),
    );
    try {
      this.#router.setRoutes(tenant, manifest.routes ?? []);
    } catch (err) {
      this.#logger.warn('ignoring invalid routes of deployment', {
        tenant,
        deployment: manifest.id,
        error: (err as Error).message,
      });
    }
    const bindings = resolveBindings(record.bindings, manifest.bindings);
    const merged = { ...bindings.vars, ...env.vars, ...env.secrets };
    // The same content keeps its version, so a state that fell out of the cache (more tenants
    // than it holds) and was read again does not make the pool replace a perfectly good isolate.
    const signature = JSON.stringify([manifest.id, merged, limits, bindings]);
    const last = this.#signatures.get(tenant);
    const version = last?.signature === signature ? last.version : ++this.#versions;
    this.#signatures.set(tenant, { signature, version });
    const state: TenantState = { tenant, manifest, env: merged, limits, bindings, version };
    this.#states.set(tenant, state);
    return state;
  }

  /**
   * A store change. Resolves once a request for the tenant gets its new state (reloaded, routes
   * pushed); never rejects (a failed reload is logged and the next request reads again).
   */
  apply(change: StoreChange): Promise<void> {
    if (!servedKinds.has(change.kind)) return Promise.resolve();
    this.#changes++;
    const had = this.#states.has(change.tenant) || this.#loading.has(change.tenant);
    const before = this.#signatures.get(change.tenant)?.version;
    this.#states.delete(change.tenant);
    const notify = () => {
      for (const listener of this.#listeners) listener(change.tenant);
    };
    // Reload eagerly when the tenant was known or may now have routes, so routes and the next
    // request see the new state; failures only log (the next request retries). Listeners hear
    // of it only when the state really changed: a store event that leaves the content as it was
    // (a rewrite with the same values, a late duplicate from the watcher) must not retire a
    // perfectly good isolate, which would also let twice the tenant's concurrency in at once.
    if (had || change.kind === 'activation') {
      return this.#load(change.tenant).then(
        (state) => {
          // `before` undefined: no state of this tenant was ever served, so no isolate can hold
          // an old one (a request that loaded the tenant while this event was in flight got the
          // same state this reload produced, and keeps its fresh isolate)
          if (state === null || (before !== undefined && state.version !== before)) notify();
        },
        (err) => {
          this.#logger.error('reloading tenant failed', { tenant: change.tenant, error: (err as Error).message });
          notify();
        },
      );
    }
    notify();
    return Promise.resolve();
  }
}
