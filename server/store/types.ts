// The store's contract: where tenants, their deployments, code caches, env and tokens live.
// Two implementations pass the same contract suite (test/server/store-contract.ts): a folder on
// local disk (fs.ts, one machine) and PostgreSQL (postgres/, many machines). Each write is atomic
// (after a crash a reader sees the old state or the new one, never half of either) and logs
// exactly one change with a revision, in the same step, so every process and node can follow
// the store in order through a change feed.

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
  /** bindings its wrangler file declared (server/bindings/declarations.ts; opaque to the store) */
  bindings?: Record<string, unknown>;
  warnings: string[];
  /** total bytes of built modules */
  size: number;
  /** bytes of every stored file (modules and source maps): what counts against the tenant's storage quota */
  storedBytes?: number;
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
  /** the tenant's declared bindings (server/bindings/declarations.ts; opaque to the store) */
  bindings?: Record<string, unknown>;
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

/**
 * A custom hostname a tenant may route (server/deploy/hostnames.ts): assigned by the operator, or
 * proved by the tenant (a DNS TXT record or an HTTP token carrying `token`), or still pending.
 */
export interface HostnameRecord {
  tenant: string;
  /** lower case; `*.example.com` covers every name under example.com */
  hostname: string;
  /** what the tenant publishes to prove it controls the name */
  token: string;
  /** how it was proved (`operator`: assigned); null while pending */
  verifiedBy: 'operator' | 'dns' | 'http' | null;
  createdAt: string;
  verifiedAt?: string;
}

/** What a change touched. `watch()` reports the first four (what serving reloads on); a change
 *  feed reports every kind. */
export type ChangeKind = 'activation' | 'env' | 'tenant' | 'limits' | 'deployment' | 'token' | 'hostname';

/** Something changed that serving processes must pick up (activation, env, tenant removal). */
export interface StoreChange {
  tenant: string;
  kind: ChangeKind;
}

/** One entry of the store's change log: every write makes exactly one, in revision order. */
export interface LoggedChange extends StoreChange {
  /** increases with every write, across every process and node sharing the store */
  revision: number;
  /** ISO-8601 time the write committed */
  at: string;
}

/** How an activation claims its deployment's routes against other tenants' active routes. */
export interface ActivateOptions {
  /** true when `mine` (the new route) may not be claimed while `theirs` is served by another
   *  tenant. The very same route (host case aside) always conflicts, whatever this says. */
  conflicts?: (mine: string, theirs: string) => boolean;
}

export interface StoreHealth {
  /** `degraded`: writes fail and reads come from what this node has cached locally */
  state: 'ok' | 'degraded';
  backend: 'fs' | 'postgres';
  /** the store's current revision, when it could be read */
  revision: number | null;
  /** why it is degraded */
  reason?: string;
}

export interface ChangeFeedOptions {
  /** deliver the changes after this revision (default: the store's revision when opened) */
  from?: number;
  /** a full re-read even without a hint, in case one was lost (ms) */
  pollMs?: number;
}

/**
 * Changes of the store, delivered once each, in revision order, with no gaps. Hints (NOTIFY, a
 * file growing) only say when to look: the feed always reads the log itself, after the last
 * revision it applied, on start, after its hint channel came back, and on a slow poll.
 */
export interface ChangeFeed {
  /** the revision of the last change delivered to listeners */
  readonly revision: number;
  /** false while the hint channel (the LISTEN connection) is down; the slow poll still runs */
  readonly connected: boolean;
  /** listeners run one change at a time, in order; an async listener is awaited before the next */
  onChange(listener: (change: LoggedChange) => void | Promise<void>): () => void;
  /** starts listening and resolves after the first catch-up (which may have failed: see lastError) */
  start(): Promise<void>;
  /** resolves true once `revision` has been delivered, false after `timeoutMs` */
  waitFor(revision: number, timeoutMs: number): Promise<boolean>;
  stats(): { revision: number; connected: boolean; reconnects: number; catchUps: number; lastError: string | null };
  close(): Promise<void>;
}

export interface DeploymentStore {
  listTenants(): Promise<TenantRecord[]>;
  getTenant(name: string): Promise<TenantRecord | null>;
  /** creates the tenant, or updates its limits when it exists. Every write resolves with the
   *  revision of the change it logged. */
  putTenant(record: TenantRecord): Promise<number>;
  /** removes the tenant with all its deployments, env, tokens and route claims */
  deleteTenant(name: string): Promise<number>;

  /** stores a built deployment (manifest + module files + source maps) atomically; does not activate */
  putDeployment(manifest: DeploymentManifest, files: Map<string, Buffer>): Promise<number>;
  getDeployment(tenant: string, id: string): Promise<DeploymentManifest | null>;
  listDeployments(tenant: string): Promise<DeploymentManifest[]>;
  /** refuses (throws) to delete the active deployment */
  deleteDeployment(tenant: string, id: string): Promise<number>;
  /** a file of a stored deployment (module source or source map) */
  readFile(tenant: string, id: string, path: string): Promise<Buffer>;
  /** every file of a deployment with its sha256 (consistency checks, copying between stores) */
  deploymentFiles(tenant: string, id: string): Promise<Record<string, string>>;

  /** V8 code cache for one module of a deployment, keyed by the V8 version that made it. Code
   *  caches stay on the local disk of the node that made them (they depend on its V8 build). */
  readCodeCache(tenant: string, id: string, path: string, v8Version: string): Promise<Buffer | null>;
  writeCodeCache(tenant: string, id: string, path: string, v8Version: string, data: Buffer): Promise<void>;

  /**
   * Atomic pointer swap: makes `id` the tenant's active deployment and, in the same step, claims
   * its routes. Two activations racing for one route cannot both win: the loser gets
   * STORE_ROUTE_TAKEN and changes nothing.
   */
  activate(tenant: string, id: string, options?: ActivateOptions): Promise<number>;

  getEnv(tenant: string): Promise<TenantEnv>;
  putEnv(tenant: string, env: TenantEnv): Promise<number>;

  /** the tenant's custom hostnames, by name */
  listHostnames(tenant: string): Promise<HostnameRecord[]>;
  /** creates or replaces one hostname record; the tenant must exist */
  putHostname(record: HostnameRecord): Promise<number>;
  deleteHostname(tenant: string, hostname: string): Promise<number>;

  listTokens(tenant?: string): Promise<TokenRecord[]>;
  /** the token's tenant must exist */
  putToken(record: TokenRecord): Promise<number>;
  deleteToken(id: string): Promise<number>;
  findTokenByHash(hash: string): Promise<TokenRecord | null>;

  /** the revision of the newest change (0: none yet) */
  currentRevision(): Promise<number>;
  /** the changes after `revision`, oldest first, at most `limit` (default 1000) */
  changesSince(revision: number, limit?: number): Promise<LoggedChange[]>;
  /** a feed of every change after `options.from`; call start() on it */
  openFeed(options?: ChangeFeedOptions): ChangeFeed;
  /** whether writes work now; never throws */
  health(): Promise<StoreHealth>;

  /** calls `listener` within a second of any activation, env, tenant or limits change made by
   *  this or another process (or node) after the call */
  watch(listener: (change: StoreChange) => void): () => void;
  close(): Promise<void>;
}
