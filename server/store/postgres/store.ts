// The DeploymentStore on PostgreSQL, for many machines sharing one database (schema in
// migrations.ts). Each write is one transaction that ends by logging its change (db.ts), so a
// node killed mid-deploy leaves nothing: PostgreSQL rolls the open transaction back. Module
// blobs are content-addressed and stored once; secrets are encrypted (secrets.ts); an activation
// claims its routes under an advisory lock, with a unique constraint on the route as the floor.
//
// Reads go to the database and keep the last value of what serving needs on local disk
// (node-cache.ts); when the database cannot be reached they are answered from there, and writes
// fail with STORE_UNAVAILABLE. Code caches never go to the database: they are per node.
import path from 'node:path';
import { checkDeployment } from '../deployment-check';
import { StoreError } from '../errors';
import { LogFeed } from '../feed';
import { checkId, checkModulePath, checkTenantName } from '../names';
import { findRouteConflict, routeKey, type RouteClaim } from '../route-claims';
import type {
  ActivateOptions,
  ChangeFeed,
  ChangeFeedOptions,
  DeploymentManifest,
  DeploymentStore,
  LoggedChange,
  StoreChange,
  StoreHealth,
  TenantEnv,
  TenantRecord,
  TokenRecord,
} from '../types';
import { watchFeed } from '../watch';
import { isUnavailable, type PostgresConnection } from './connect';
import { Db, type Queryable } from './db';
import { PgFeedSource } from './feed';
import { lockKeys, migrate, type MigrationResult } from './migrations';
import { NodeCache } from './node-cache';
import { decryptSecrets, encryptSecrets, parseSecretKeys, type SecretKey } from './secrets';

export interface PostgresStoreOptions extends PostgresConnection {
  /** this node's local cache folder (blobs, code caches, last known records) */
  cacheDir: string;
  /** ISLET_SECRET_KEY: `id:base64key[,id:base64key...]`, the first encrypts */
  secretKey?: string;
  /** slow poll of feeds (ms, default 5000) */
  pollMs?: number;
}

interface TenantRow {
  name: string;
  created_at: string;
  limits: Record<string, number> | null;
  active: string | null;
}
interface DeploymentRecord {
  manifest: DeploymentManifest;
  files: Record<string, string>;
}
interface StoredEnv {
  vars: Record<string, string>;
  secrets: string | null;
  keyId: string | null;
}

const notFound = (what: string) => new StoreError('STORE_NOT_FOUND', what);
/** unreferenced blobs younger than this are kept: an upload in flight may be about to name them */
const blobGrace = '10 minutes';

function tenantRecord(row: TenantRow): TenantRecord {
  const record: TenantRecord = { name: row.name, createdAt: row.created_at, active: row.active };
  if (row.limits && Object.keys(row.limits).length > 0) record.limits = row.limits;
  return record;
}

function tokenRecord(row: { id: string; tenant: string; hash: string; created_at: string; description: string | null }): TokenRecord {
  const record: TokenRecord = { id: row.id, tenant: row.tenant, hash: row.hash, createdAt: row.created_at };
  if (row.description !== null) record.description = row.description;
  return record;
}

async function requireTenant(q: Queryable, tenant: string, lock: 'FOR UPDATE' | 'FOR SHARE'): Promise<TenantRow> {
  const { rows } = await q.query<TenantRow>(`SELECT * FROM islet.tenants WHERE name = $1 ${lock}`, [tenant]);
  if (!rows[0]) throw notFound(`tenant '${tenant}' does not exist`);
  return rows[0];
}

export class PostgresDeploymentStore implements DeploymentStore {
  readonly #db: Db;
  readonly #cache: NodeCache;
  readonly #keys: SecretKey[];
  readonly #pollMs: number;
  readonly #feeds = new Set<ChangeFeed>();
  /** the newest revision this store knows of: where watch() starts */
  #known = 0;
  #schema: Promise<MigrationResult> | null = null;

  constructor(options: PostgresStoreOptions) {
    this.#db = new Db(options);
    this.#cache = new NodeCache(options.cacheDir);
    this.#keys = options.secretKey ? parseSecretKeys(options.secretKey) : [];
    this.#pollMs = options.pollMs ?? 5000;
  }

  /** applies missing migrations (once per store; retried after a failure) */
  migrate(): Promise<MigrationResult> {
    this.#schema ??= migrate(this.#db.pool).catch((error) => {
      this.#schema = null;
      return this.#db.fail(error);
    });
    return this.#schema;
  }

  async #see(revision: number): Promise<number> {
    this.#known = Math.max(this.#known, revision);
    return revision;
  }

  /** reads from the database, remembering the answer; answers from the node cache when it is unreachable */
  async #read<T>(key: string, load: () => Promise<T>): Promise<T> {
    try {
      await this.migrate();
      const value = await load();
      await this.#cache.remember(key, value);
      return value;
    } catch (error) {
      if (!isUnavailable(error)) throw error;
      const cached = await this.#cache.recall<T>(key);
      if (cached) return cached.value;
      throw error;
    }
  }

  async #write(change: StoreChange | (() => StoreChange), work: (q: Queryable) => Promise<void>): Promise<number> {
    await this.migrate();
    const logged = await this.#db.write(change, work);
    return this.#see(logged.revision);
  }

  // ---- tenants ----

  async listTenants(): Promise<TenantRecord[]> {
    return this.#read('tenants', async () => {
      const { rows } = await this.#db.query<TenantRow>('SELECT * FROM islet.tenants ORDER BY name COLLATE "C"');
      return rows.map(tenantRecord);
    });
  }

  async getTenant(name: string): Promise<TenantRecord | null> {
    checkTenantName(name);
    return this.#read(`tenant/${name}`, async () => {
      const { rows } = await this.#db.query<TenantRow>('SELECT * FROM islet.tenants WHERE name = $1', [name]);
      return rows[0] ? tenantRecord(rows[0]) : null;
    });
  }

  async putTenant(record: TenantRecord): Promise<number> {
    checkTenantName(record.name);
    let created = false;
    const limits = record.limits && Object.keys(record.limits).length > 0 ? JSON.stringify(record.limits) : null;
    return this.#write(
      () => ({ tenant: record.name, kind: created ? 'tenant' : 'limits' }),
      async (q) => {
        const { rows } = await q.query<{ created: boolean }>(
          `INSERT INTO islet.tenants (name, created_at, limits) VALUES ($1, $2, $3)
           ON CONFLICT (name) DO UPDATE SET limits = EXCLUDED.limits RETURNING (xmax = 0) AS created`,
          [record.name, record.createdAt || new Date().toISOString(), limits],
        );
        created = rows[0]!.created;
      },
    );
  }

  async deleteTenant(name: string): Promise<number> {
    checkTenantName(name);
    const revision = await this.#write({ tenant: name, kind: 'tenant' }, async (q) => {
      // deployments, files, env, tokens and route claims go with it (ON DELETE CASCADE)
      const { rowCount } = await q.query('DELETE FROM islet.tenants WHERE name = $1', [name]);
      if (!rowCount) throw notFound(`tenant '${name}' does not exist`);
    });
    await Promise.all([this.#cache.forget(`tenant/${name}`), this.#cache.forget(`env/${name}`)]);
    await this.#collectGarbage();
    return revision;
  }

  // ---- deployments ----

  async putDeployment(manifest: DeploymentManifest, files: Map<string, Buffer>): Promise<number> {
    const hashes = checkDeployment(manifest, files);
    const unique = new Map<string, Buffer>();
    for (const [p, data] of files) unique.set(hashes[p]!, data);
    const revision = await this.#write({ tenant: manifest.tenant, kind: 'deployment' }, async (q) => {
      await requireTenant(q, manifest.tenant, 'FOR SHARE');
      const exists = await q.query('SELECT 1 FROM islet.deployments WHERE tenant = $1 AND id = $2', [manifest.tenant, manifest.id]);
      if (exists.rowCount) throw new StoreError('STORE_CONFLICT', `deployment '${manifest.id}' of tenant '${manifest.tenant}' already exists`);
      // Blobs already stored are not sent again; touching them locks their rows and makes them
      // young, so a concurrent garbage collection cannot take them before this commits.
      const { rows } = await q.query<{ hash: string }>('UPDATE islet.blobs SET stored_at = now() WHERE hash = ANY($1) RETURNING hash', [[...unique.keys()]]);
      const present = new Set(rows.map((r) => r.hash));
      for (const [hash, data] of unique) {
        if (present.has(hash)) continue;
        await q.query('INSERT INTO islet.blobs (hash, size, data) VALUES ($1, $2, $3) ON CONFLICT (hash) DO UPDATE SET stored_at = now()', [hash, data.length, data]);
      }
      await q.query('INSERT INTO islet.deployments (tenant, id, created_at, manifest) VALUES ($1, $2, $3, $4)', [manifest.tenant, manifest.id, manifest.createdAt, JSON.stringify(manifest)]);
      await q.query(
        `INSERT INTO islet.deployment_files (tenant, deployment, path, hash) SELECT $1, $2, p, h FROM unnest($3::text[], $4::text[]) AS f(p, h)`,
        [manifest.tenant, manifest.id, Object.keys(hashes), Object.values(hashes)],
      );
    });
    // this node will serve it: keep its files and record on local disk now (best effort)
    await Promise.all([...unique].map(([hash, data]) => this.#cache.writeBlob(hash, data).catch(() => {})));
    await this.#cache.remember(`deployment/${manifest.tenant}/${manifest.id}`, { manifest, files: hashes } satisfies DeploymentRecord);
    return revision;
  }

  /** a deployment's manifest and files: immutable, so any copy, cached or not, is the truth */
  async #record(tenant: string, id: string): Promise<DeploymentRecord | null> {
    checkTenantName(tenant);
    checkId(id, 'deployment id');
    return this.#read(`deployment/${tenant}/${id}`, async () => {
      const { rows } = await this.#db.query<{ manifest: DeploymentManifest; files: Record<string, string> | null }>(
        `SELECT d.manifest, (SELECT json_object_agg(f.path, f.hash) FROM islet.deployment_files f
           WHERE f.tenant = d.tenant AND f.deployment = d.id) AS files
         FROM islet.deployments d WHERE d.tenant = $1 AND d.id = $2`,
        [tenant, id],
      );
      return rows[0] ? { manifest: rows[0].manifest, files: rows[0].files ?? {} } : null;
    });
  }

  async getDeployment(tenant: string, id: string): Promise<DeploymentManifest | null> {
    return (await this.#record(tenant, id))?.manifest ?? null;
  }

  async listDeployments(tenant: string): Promise<DeploymentManifest[]> {
    checkTenantName(tenant);
    await this.migrate();
    const { rows } = await this.#db.query<{ manifest: DeploymentManifest }>(
      'SELECT manifest FROM islet.deployments WHERE tenant = $1 ORDER BY created_at COLLATE "C" DESC, id COLLATE "C" DESC',
      [tenant],
    );
    return rows.map((r) => r.manifest);
  }

  async deleteDeployment(tenant: string, id: string): Promise<number> {
    checkTenantName(tenant);
    checkId(id, 'deployment id');
    const revision = await this.#write({ tenant, kind: 'deployment' }, async (q) => {
      const owner = await q.query<{ active: string | null }>('SELECT active FROM islet.tenants WHERE name = $1 FOR UPDATE', [tenant]);
      const { rowCount } = await q.query('SELECT 1 FROM islet.deployments WHERE tenant = $1 AND id = $2', [tenant, id]);
      if (!owner.rows[0] || !rowCount) throw notFound(`deployment '${id}' of tenant '${tenant}' does not exist`);
      if (owner.rows[0].active === id) {
        throw new StoreError('STORE_ACTIVE_DEPLOYMENT', `deployment '${id}' is active for tenant '${tenant}': activate another one first`);
      }
      await q.query('DELETE FROM islet.deployments WHERE tenant = $1 AND id = $2', [tenant, id]);
    });
    await this.#cache.forget(`deployment/${tenant}/${id}`);
    await this.#collectGarbage();
    return revision;
  }

  async readFile(tenant: string, id: string, filePath: string): Promise<Buffer> {
    const hash = (await this.deploymentFiles(tenant, id))[filePath];
    if (!hash) throw notFound(`deployment '${id}' of tenant '${tenant}' has no file '${filePath}'`);
    const local = await this.#cache.readBlob(hash);
    if (local) return local;
    const { rows } = await this.#db.query<{ data: Buffer }>('SELECT data FROM islet.blobs WHERE hash = $1', [hash]);
    if (!rows[0]) throw new StoreError('STORE_CORRUPT', `file '${filePath}' of deployment '${id}' (blob ${hash}) is missing from the store`);
    await this.#cache.writeBlob(hash, rows[0].data).catch(() => {});
    return rows[0].data;
  }

  async deploymentFiles(tenant: string, id: string): Promise<Record<string, string>> {
    const record = await this.#record(tenant, id);
    if (!record) throw notFound(`deployment '${id}' of tenant '${tenant}' does not exist`);
    return record.files;
  }

  async #moduleHash(tenant: string, id: string, modulePath: string): Promise<string | null> {
    checkModulePath(modulePath);
    const record = await this.#record(tenant, id);
    if (!record) throw notFound(`deployment '${id}' of tenant '${tenant}' does not exist`);
    return record.files[modulePath] ?? null;
  }

  async readCodeCache(tenant: string, id: string, modulePath: string, v8Version: string): Promise<Buffer | null> {
    const hash = await this.#moduleHash(tenant, id, modulePath).catch(() => null);
    return hash ? this.#cache.readCode(v8Version, hash) : null;
  }

  async writeCodeCache(tenant: string, id: string, modulePath: string, v8Version: string, data: Buffer): Promise<void> {
    const hash = await this.#moduleHash(tenant, id, modulePath);
    if (!hash) throw notFound(`deployment '${id}' of tenant '${tenant}' has no module '${modulePath}'`);
    await this.#cache.writeCode(v8Version, hash, data);
  }

  async activate(tenant: string, id: string, options: ActivateOptions = {}): Promise<number> {
    checkTenantName(tenant);
    checkId(id, 'deployment id');
    return this.#write({ tenant, kind: 'activation' }, async (q) => {
      await requireTenant(q, tenant, 'FOR UPDATE');
      const { rows } = await q.query<{ routes: string[] | null }>(`SELECT manifest->'routes' AS routes FROM islet.deployments WHERE tenant = $1 AND id = $2`, [tenant, id]);
      if (!rows[0]) throw notFound(`deployment '${id}' of tenant '${tenant}' does not exist`);
      const routes = rows[0].routes ?? [];
      await q.query('DELETE FROM islet.routes WHERE tenant = $1', [tenant]);
      if (routes.length > 0) {
        // one claimer at a time sees every claim committed before it and adds its own
        await q.query('SELECT pg_advisory_xact_lock($1)', [lockKeys.routes]);
        const claims = await q.query<RouteClaim>(
          'SELECT pattern AS route, tenant FROM islet.routes WHERE tenant <> $1 ORDER BY tenant COLLATE "C", position',
          [tenant],
        );
        const conflict = findRouteConflict(tenant, routes, claims.rows, options.conflicts);
        if (conflict) throw conflict;
        await this.#claim(q, tenant, id, routes);
      }
      await q.query('UPDATE islet.tenants SET active = $2 WHERE name = $1', [tenant, id]);
    });
  }

  async #claim(q: Queryable, tenant: string, id: string, routes: string[]): Promise<void> {
    const unique = [...new Map(routes.map((route) => [routeKey(route), route])).entries()];
    try {
      await q.query(
        `INSERT INTO islet.routes (route, pattern, tenant, deployment, position)
         SELECT k, p, $1, $2, n FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS r(k, p, n)`,
        [tenant, id, unique.map(([key]) => key), unique.map(([, route]) => route)],
      );
    } catch (error) {
      if ((error as { code?: string }).code !== '23505') throw error;
      throw new StoreError('STORE_ROUTE_TAKEN', `a route of deployment '${id}' is already served by another tenant`);
    }
  }

  // ---- env ----

  async getEnv(tenant: string): Promise<TenantEnv> {
    checkTenantName(tenant);
    return this.#read(`env/${tenant}`, async () => {
      const { rows } = await this.#db.query<{ vars: Record<string, string>; secrets: Buffer | null; key_id: string | null }>(
        'SELECT vars, secrets, key_id FROM islet.env WHERE tenant = $1',
        [tenant],
      );
      const row = rows[0];
      return { vars: row?.vars ?? {}, secrets: row?.secrets ? row.secrets.toString('base64') : null, keyId: row?.key_id ?? null } satisfies StoredEnv;
    }).then((stored) => ({
      vars: stored.vars,
      secrets: stored.secrets && stored.keyId ? decryptSecrets(this.#keys, tenant, stored.keyId, Buffer.from(stored.secrets, 'base64')) : {},
    }));
  }

  async putEnv(tenant: string, env: TenantEnv): Promise<number> {
    checkTenantName(tenant);
    const sealed = Object.keys(env.secrets).length > 0 ? encryptSecrets(this.#keys, tenant, env.secrets) : null;
    return this.#write({ tenant, kind: 'env' }, async (q) => {
      await requireTenant(q, tenant, 'FOR SHARE');
      await q.query(
        `INSERT INTO islet.env (tenant, vars, secrets, key_id) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant) DO UPDATE SET vars = EXCLUDED.vars, secrets = EXCLUDED.secrets, key_id = EXCLUDED.key_id`,
        [tenant, JSON.stringify(env.vars), sealed?.data ?? null, sealed?.keyId ?? null],
      );
    });
  }

  // ---- tokens ----

  async listTokens(tenant?: string): Promise<TokenRecord[]> {
    if (tenant !== undefined) checkTenantName(tenant);
    await this.migrate();
    const { rows } = await this.#db.query<Parameters<typeof tokenRecord>[0]>(
      'SELECT * FROM islet.tokens WHERE $1::text IS NULL OR tenant = $1 ORDER BY created_at COLLATE "C", id COLLATE "C"',
      [tenant ?? null],
    );
    return rows.map(tokenRecord);
  }

  async putToken(record: TokenRecord): Promise<number> {
    checkId(record.id, 'token id');
    checkTenantName(record.tenant);
    if (!/^[0-9a-f]{64}$/.test(record.hash)) throw new StoreError('STORE_INVALID_NAME', 'token hash must be a sha256 in hex');
    return this.#write({ tenant: record.tenant, kind: 'token' }, async (q) => {
      await requireTenant(q, record.tenant, 'FOR SHARE');
      const other = await q.query<{ id: string }>('SELECT id FROM islet.tokens WHERE hash = $1 AND id <> $2', [record.hash, record.id]);
      if (other.rows[0]) throw new StoreError('STORE_CONFLICT', `another token (id '${other.rows[0].id}') has the same hash`);
      await q.query(
        `INSERT INTO islet.tokens (id, tenant, hash, created_at, description) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET tenant = EXCLUDED.tenant, hash = EXCLUDED.hash, created_at = EXCLUDED.created_at, description = EXCLUDED.description`,
        [record.id, record.tenant, record.hash, record.createdAt, record.description ?? null],
      );
    });
  }

  async deleteToken(id: string): Promise<number> {
    checkId(id, 'token id');
    let tenant = '';
    return this.#write(
      () => ({ tenant, kind: 'token' }),
      async (q) => {
        const { rows } = await q.query<{ tenant: string }>('DELETE FROM islet.tokens WHERE id = $1 RETURNING tenant', [id]);
        if (!rows[0]) throw notFound(`token '${id}' does not exist`);
        tenant = rows[0].tenant;
      },
    );
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | null> {
    await this.migrate();
    const { rows } = await this.#db.query<Parameters<typeof tokenRecord>[0]>('SELECT * FROM islet.tokens WHERE hash = $1', [hash]);
    return rows[0] ? tokenRecord(rows[0]) : null;
  }

  // ---- changes ----

  async currentRevision(): Promise<number> {
    await this.migrate();
    const { rows } = await this.#db.query<{ revision: string }>('SELECT coalesce(max(revision), 0) AS revision FROM islet.changes');
    return this.#see(Number(rows[0]!.revision));
  }

  async changesSince(revision: number, limit = 1000): Promise<LoggedChange[]> {
    await this.migrate();
    return new PgFeedSource(this.#db).changesSince(revision, limit);
  }

  openFeed(options: ChangeFeedOptions = {}): ChangeFeed {
    const feed = new LogFeed(new PgFeedSource(this.#db), { from: options.from ?? this.#known, pollMs: options.pollMs ?? this.#pollMs });
    this.#feeds.add(feed);
    const close = feed.close.bind(feed);
    feed.close = async () => {
      this.#feeds.delete(feed);
      await close();
    };
    return feed;
  }

  async health(): Promise<StoreHealth> {
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 2 s')), 2000).unref());
    try {
      const revision = await Promise.race([this.currentRevision(), timeout]);
      return { state: 'ok', backend: 'postgres', revision };
    } catch (error) {
      return { state: 'degraded', backend: 'postgres', revision: null, reason: (error as Error).message };
    }
  }

  watch(listener: (change: StoreChange) => void): () => void {
    return watchFeed(this.openFeed({ from: this.#known }), listener);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#feeds].map((feed) => feed.close()));
    await this.#db.close();
  }

  /** removes blobs no deployment names any more (best effort: a failure leaves them for next time) */
  async #collectGarbage(): Promise<void> {
    await this.#db
      .query(
        `DELETE FROM islet.blobs b WHERE b.stored_at < now() - interval '${blobGrace}'
         AND NOT EXISTS (SELECT 1 FROM islet.deployment_files f WHERE f.hash = b.hash)`,
      )
      .catch(() => {});
  }
}

/** the node cache folder for a data folder */
export function nodeCacheDir(dataDir: string): string {
  return path.join(dataDir, 'node-cache');
}
