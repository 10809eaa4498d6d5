// The store's contract: where tenants, their deployments, code caches, env and tokens live.
// Every implementation (the local-disk default, a shared backend later) must make each write
// atomic: after a crash a reader sees the old state or the new one, never half of either.

/** One built module of a deployment, as stored. Paths are POSIX, relative, without `./`. */
export interface ModuleRecord {
  path: string;
  /** byte length of the built JavaScript */
  size: number;
  /** sha256 (hex) of the built JavaScript */
  sha256: string;
  /** path of its source map inside the deployment, when one was produced */
  sourceMap?: string;
}

export interface DeploymentManifest {
  /** unique id of this deployment (stable, URL-safe) */
  id: string;
  tenant: string;
  /** sha256 (hex) over the built modules and manifest-relevant settings: identical uploads hash alike */
  hash: string;
  /** ISO-8601 */
  createdAt: string;
  /** `modules`: ES modules linked in the isolate, entry exports default { fetch }.
   *  `script`: one classic script using addEventListener('fetch', ...). */
  format: 'modules' | 'script';
  /** path of the entry module */
  entry: string;
  /** built by server/deploy: modules import each other as '/<module path>' (bare specifiers
   *  only through `importMap`), so linking is a string lookup in this list */
  modules: ModuleRecord[];
  /** bare specifier -> module path inside the deployment (import map, already resolved at build) */
  importMap?: Record<string, string>;
  /** custom routes `hostname/path-prefix*` (see server/front) */
  routes: string[];
  compatibility?: Record<string, unknown>;
  warnings: string[];
  /** total bytes of built modules */
  size: number;
  /** what the deployer said changed (`islet deploy -m`, the upload's `message`); at most 2000 characters */
  message?: string;
  /** who deployed: 'operator', 'token:<id>' of a deploy token, or 'functions/' for a published folder */
  author?: string;
}

export interface TenantRecord {
  name: string;
  createdAt: string;
  /** id of the active deployment, or null when none is active */
  active: string | null;
  /** per-tenant limit overrides (keys of config Limits) */
  limits?: Record<string, number>;
}

export interface TenantEnv {
  /** plain environment variables: returned by the API */
  vars: Record<string, string>;
  /** secrets: given to the function in `env`, never returned by the API nor logged */
  secrets: Record<string, string>;
}

export interface TokenRecord {
  id: string;
  tenant: string;
  /** sha256 (hex) of the token; the token itself is never stored */
  hash: string;
  createdAt: string;
  description?: string;
}

/** Something changed that serving processes must pick up (activation, env, tenant removal). */
export interface StoreChange {
  tenant: string;
  kind: 'activation' | 'env' | 'tenant' | 'limits';
}

export interface DeploymentStore {
  listTenants(): Promise<TenantRecord[]>;
  getTenant(name: string): Promise<TenantRecord | null>;
  /** creates the tenant, or updates its limits when it exists */
  putTenant(record: TenantRecord): Promise<void>;
  /** removes the tenant with all its deployments, env and tokens */
  deleteTenant(name: string): Promise<void>;

  /** stores a built deployment (manifest + module files + source maps) atomically; does not activate */
  putDeployment(manifest: DeploymentManifest, files: Map<string, Buffer>): Promise<void>;
  getDeployment(tenant: string, id: string): Promise<DeploymentManifest | null>;
  listDeployments(tenant: string): Promise<DeploymentManifest[]>;
  /** refuses (throws) to delete the active deployment */
  deleteDeployment(tenant: string, id: string): Promise<void>;
  /** a file of a stored deployment (module source or source map) */
  readFile(tenant: string, id: string, path: string): Promise<Buffer>;

  /** V8 code cache for one module of a deployment, keyed by the V8 version that made it */
  readCodeCache(tenant: string, id: string, path: string, v8Version: string): Promise<Buffer | null>;
  writeCodeCache(tenant: string, id: string, path: string, v8Version: string, data: Buffer): Promise<void>;

  /** atomic pointer swap: makes `id` the tenant's active deployment */
  activate(tenant: string, id: string): Promise<void>;

  getEnv(tenant: string): Promise<TenantEnv>;
  putEnv(tenant: string, env: TenantEnv): Promise<void>;

  listTokens(tenant?: string): Promise<TokenRecord[]>;
  putToken(record: TokenRecord): Promise<void>;
  deleteToken(id: string): Promise<void>;
  findTokenByHash(hash: string): Promise<TokenRecord | null>;

  /** calls `listener` within a second of any change made by this or another process */
  watch(listener: (change: StoreChange) => void): () => void;
  close(): Promise<void>;
}
