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
import { StoreError } from '../../errors';
import { OpenFeeds } from '../feed';
import { checkId, checkModulePath, checkTenantName } from '../names';
import { checkHostname, checkHostnameRecord } from '../hostnames';
import { RecordMemo } from '../record-memo';
import { removeHostname, selectHostnames, upsertHostname } from './hostnames';
import type {
  ActivateOptions,
  ChangeFeed,
  ChangeFeedOptions,
  DeploymentManifest,
  DeploymentStore,
  HostnameRecord,
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
import { migrate, type MigrationResult } from './migrations';
import { NodeCache } from './node-cache';
import {
  activateDeployment,
  collectGarbage,
  type DeploymentRecord,
  insertDeployment,
  notFound,
  requireTenant,
  selectDeployment,
  type TenantRow,
  type TokenRow,
  tenantRecord,
  tokenRecord,
  upsertToken,
} from './statements';
import { decryptSecrets, encryptSecrets, parseSecretKeys, type SecretKey } from './secrets';

export interface PostgresStoreOptions extends PostgresConnection {
  /** this node's local cache folder (blobs, code caches, last known records) */
  cacheDir: string;
  /** ISLET_SECRET_KEY: `id:base64key[,id:base64key...]`, the first encrypts */
  secretKey?: string;
  /** slow poll of feeds (ms, default 5000) */
  pollMs?: number;
}

interface StoredEnv {
  vars: Record<string, string>;
  secrets: string | null;
  keyId: string | null;
}

export class PostgresDeploymentStore implements DeploymentStore {
  readonly #db: Db;
  readonly #cache: NodeCache;
  /** deployment records already read (immutable: one query per deployment, not one per file) */
  readonly #records = new RecordMemo<DeploymentRecord>();
  readonly #keys: SecretKey[];
  readonly #pollMs: number;
  readonly #feeds = new OpenFeeds();
  /** the newest revision this store knows of: where watch() starts */
  #known = 0;
  #schema: Promise<MigrationResult> | null = null;
  #closing: Promise<void> | null = null;

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
    const bindings =
      record.bindings && Object.keys(record.bindings).length > 0 ? JSON.stringify(record.bindings) : null;
    return this.#write(
      () => ({ tenant: record.name, kind: created ? 'tenant' : 'limits' }),
      async (q) => {
        const { rows } = await q.query<{ created: boolean }>(
          `INSERT INTO islet.tenants (name, created_at, limits, bindings) VALUES ($1, $2, $3, $4)
           ON CONFLICT (name) DO UPDATE SET limits = EXCLUDED.limits, bindings = EXCLUDED.bindings
           RETURNING (xmax = 0) AS created`,
          [record.name, record.createdAt || new Date().toISOString(), limits, bindings],
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
    this.#records.forgetTenant(name);
    await collectGarbage(this.#db);
    return revision;
  }

  // ---- deployments ----

  async putDeployment(manifest: DeploymentManifest, files: Map<string, Buffer>): Promise<number> {
    const hashes = checkDeployment(manifest, files);
    const unique = new Map<string, Buffer>();
    for (const [p, data] of files) unique.set(hashes[p]!, data);
    const revision = await this.#write({ tenant: manifest.tenant, kind: 'deployment' }, (q) =>
      insertDeployment(q, manifest, hashes, unique),
    );
    // this node will serve it: keep its files and record on local disk now (best effort)
    await Promise.all([...unique].map(([hash, data]) => this.#cache.writeBlob(hash, data).catch(() => {})));
    const record: DeploymentRecord = { manifest, files: hashes };
    await this.#cache.remember(`deployment/${manifest.tenant}/${manifest.id}`, record);
    this.#records.set(manifest.tenant, manifest.id, record);
    return revision;
  }

  /** a deployment's manifest and files: immutable, so any copy, cached or not, is the truth */
  async #record(tenant: string, id: string): Promise<DeploymentRecord | null> {
    checkTenantName(tenant);
    checkId(id, 'deployment id');
    return this.#records.get(tenant, id, () =>
      this.#read(`deployment/${tenant}/${id}`, () => selectDeployment(this.#db, tenant, id)),
    );
  }

  async getDeployment(tenant: string, id: string): Promise<DeploymentManifest | null> {
    return (await this.#record(tenant, id))?.manifest ?? null;
  }

  async listDeployments(tenant: string): Promise<DeploymentManifest[]> {
    checkTenantName(tenant);
    await this.migrate();
    const { rows } = await this.#db.query<{ manifest: DeploymentManifest }>(
      `SELECT manifest FROM islet.deployments WHERE tenant = $1
       ORDER BY created_at COLLATE "C" DESC, id COLLATE "C" DESC`,
      [tenant],
    );
    return rows.map((r) => r.manifest);
  }

  async deleteDeployment(tenant: string, id: string): Promise<number> {
    checkTenantName(tenant);
    checkId(id, 'deployment id');
    const revision = await this.#write({ tenant, kind: 'deployment' }, async (q) => {
      const owner = await q.query<{ active: string | null }>(
        'SELECT active FROM islet.tenants WHERE name = $1 FOR UPDATE',
        [tenant],
      );
      const { rowCount } = await q.query('SELECT 1 FROM islet.deployments WHERE tenant = $1 AND id = $2', [tenant, id]);
      if (!owner.rows[0] || !rowCount) throw notFound(`deployment '${id}' of tenant '${tenant}' does not exist`);
      if (owner.rows[0].active === id) {
        throw new StoreError(
          'ISLET_STORE_ACTIVE_DEPLOYMENT',
          `deployment '${id}' is active for tenant '${tenant}': activate another one first`,
        );
      }
      await q.query('DELETE FROM islet.deployments WHERE tenant = $1 AND id = $2', [tenant, id]);
    });
    await this.#cache.forget(`deployment/${tenant}/${id}`);
    this.#records.forgetDeployment(tenant, id);
    await collectGarbage(this.#db);
    return revision;
  }

  async readFile(tenant: string, id: string, filePath: string): Promise<Buffer> {
    const hash = (await this.deploymentFiles(tenant, id))[filePath];
    if (!hash) throw notFound(`deployment '${id}' of tenant '${tenant}' has no file '${filePath}'`);
    const local = await this.#cache.readBlob(hash);
    if (local) return local;
    const { rows } = await this.#db.query<{ data: Buffer }>('SELECT data FROM islet.blobs WHERE hash = $1', [hash]);
    if (!rows[0])
      throw new StoreError(
        'ISLET_STORE_CORRUPT',
        `file '${filePath}' of deployment '${id}' (blob ${hash}) is missing from the store`,
      );
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
    return this.#write({ tenant, kind: 'activation' }, (q) => activateDeployment(q, tenant, id, options.conflicts));
  }

  // ---- env ----

  async getEnv(tenant: string): Promise<TenantEnv> {
    checkTenantName(tenant);
    return this.#read(`env/${tenant}`, async () => {
      const { rows } = await this.#db.query<{
        vars: Record<string, string>;
        secrets: Buffer | null;
        key_id: string | null;
      }>('SELECT vars, secrets, key_id FROM islet.env WHERE tenant = $1', [tenant]);
      const row = rows[0];
      return {
        vars: row?.vars ?? {},
        secrets: row?.secrets ? row.secrets.toString('base64') : null,
        keyId: row?.key_id ?? null,
      } satisfies StoredEnv;
    }).then((stored) => ({
      vars: stored.vars,
      secrets:
        stored.secrets && stored.keyId
          ? decryptSecrets(this.#keys, tenant, stored.keyId, Buffer.from(stored.secrets, 'base64'))
          : {},
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

  // ---- hostnames ----

  async listHostnames(tenant: string): Promise<HostnameRecord[]> {
    checkTenantName(tenant);
    await this.migrate();
    return selectHostnames(this.#db, tenant);
  }

  async putHostname(record: HostnameRecord): Promise<number> {
    checkTenantName(record.tenant);
    checkHostnameRecord(record);
    return this.#write({ tenant: record.tenant, kind: 'hostname' }, (q) => upsertHostname(q, record));
  }

  async deleteHostname(tenant: string, hostname: string): Promise<number> {
    checkTenantName(tenant);
    checkHostname(hostname);
    return this.#write({ tenant, kind: 'hostname' }, (q) => removeHostname(q, tenant, hostname));
  }

  // ---- tokens ----

  async listTokens(tenant?: string): Promise<TokenRecord[]> {
    if (tenant !== undefined) checkTenantName(tenant);
    await this.migrate();
    const { rows } = await this.#db.query<TokenRow>(
      `SELECT * FROM islet.tokens WHERE $1::text IS NULL OR tenant = $1
       ORDER BY created_at COLLATE "C", id COLLATE "C"`,
      [tenant ?? null],
    );
    return rows.map(tokenRecord);
  }

  async putToken(record: TokenRecord): Promise<number> {
    checkId(record.id, 'token id');
    checkTenantName(record.tenant);
    if (!/^[0-9a-f]{64}$/.test(record.hash))
      throw new StoreError('ISLET_STORE_INVALID_NAME', 'token hash must be a sha256 in hex');
    return this.#write({ tenant: record.tenant, kind: 'token' }, (q) => upsertToken(q, record));
  }

  async deleteToken(id: string): Promise<number> {
    checkId(id, 'token id');
    let tenant = '';
    return this.#write(
      () => ({ tenant, kind: 'token' }),
      async (q) => {
        const { rows } = await q.query<{ tenant: string }>('DELETE FROM islet.tokens WHERE id = $1 RETURNING tenant', [
          id,
        ]);
        if (!rows[0]) throw notFound(`token '${id}' does not exist`);
        tenant = rows[0].tenant;
      },
    );
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | null> {
    await this.migrate();
    const { rows } = await this.#db.query<TokenRow>('SELECT * FROM islet.tokens WHERE hash = $1', [hash]);
    return rows[0] ? tokenRecord(rows[0]) : null;
  }

  // ---- changes ----

  async currentRevision(): Promise<number> {
    await this.migrate();
    const { rows } = await this.#db.query<{ revision: string }>(
      'SELECT coalesce(max(revision), 0) AS revision FROM islet.changes',
    );
    return this.#see(Number(rows[0]!.revision));
  }

  async changesSince(revision: number, limit = 1000): Promise<LoggedChange[]> {
    await this.migrate();
    return new PgFeedSource(this.#db).changesSince(revision, limit);
  }

  openFeed(options: ChangeFeedOptions = {}): ChangeFeed {
    return this.#feeds.open(new PgFeedSource(this.#db), {
      from: options.from ?? this.#known,
      pollMs: options.pollMs ?? this.#pollMs,
    });
  }

  async health(): Promise<StoreHealth> {
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('no answer within 2 s')), 2000).unref(),
    );
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

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#feeds.closeAll();
      await this.#db.close();
    })();
    return this.#closing;
  }
}

/** the node cache folder for a data folder */
export function nodeCacheDir(dataDir: string): string {
  return path.join(dataDir, 'node-cache');
}
