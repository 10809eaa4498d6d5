// The default DeploymentStore: a folder on local disk (ISLET_DATA_DIR), shared safely by every
// process of one machine.
//
//   changes                          the change log: fixed-size records, revision = size / 128
//   locks/                           the write lock every process takes for a write (fs-lock.ts)
//   tmp/                             temp files of in-flight writes; leftovers swept at open
//   blobs/<2 hex>/<sha256>           content-addressed files (modules, source maps), immutable
//   tenants/<t>/tenant.json          name, createdAt, limits, bindings
//   tenants/<t>/active               the pointer: id of the active deployment (absent: none)
//   tenants/<t>/env.json             vars and secrets (mode 0600 like every file here)
//   tenants/<t>/hostnames.json       custom hostnames: hostname -> record (assigned, proved, pending)
//   tenants/<t>/deployments/<id>.json  manifest + path -> sha256 of each file
//   tenants/<t>/cache/<id>/<v8>/<sha256 of path>  V8 code cache of one module
//   tokens/<id>.json                 deploy tokens (hash only)
//
// Every write is temp + fsync + rename + fsync of the folder (atomic.ts). A deployment's blobs
// are written before its record, and the record before any pointer names it, so after a crash
// at any moment a record always names complete blobs and a pointer a complete record; the worst
// left behind is unreferenced blobs, swept by the garbage collection that deletions run.
// Records, pointers and the change log are written under the write lock, the change last: a
// reader that sees revision r sees every write up to r. Blobs are written before taking it.
import fs from 'node:fs/promises';
import path from 'node:path';
import { listDir, readIfExists, readJson, writeFileAtomic } from './atomic';
import { checkDeployment, sha256 } from './deployment-check';
import { StoreError } from '../errors';
import { FsBlobs } from './fs-blobs';
import { FsJournal } from './fs-journal';
import { checkId, checkModulePath, checkTenantName } from './names';
import { collectGarbage, dropUnreferenced } from './fs-gc';
import { FsHostnames } from './fs-hostnames';
import { checkHostname, checkHostnameRecord } from './hostnames';
import { RecordMemo } from './record-memo';
import { findRouteConflict, type RouteClaim } from './route-claims';
import type {
  ActivateOptions,
  ChangeFeed,
  ChangeFeedOptions,
  ChangeKind,
  DeploymentManifest,
  DeploymentStore,
  HostnameRecord,
  LoggedChange,
  StoreChange,
  StoreHealth,
  TenantEnv,
  TenantRecord,
  TokenRecord,
} from './types';
import { watchFeed } from './watch';

/** What a deployment record on disk holds. */
interface DeploymentRecord {
  manifest: DeploymentManifest;
  /** every stored file of the deployment (modules and source maps): path -> sha256 */
  files: Record<string, string>;
}

/** Temp files older than this at open belong to writers that died. */
const tmpGraceMs = 10 * 60 * 1000;

function notFound(what: string): StoreError {
  return new StoreError('ISLET_STORE_NOT_FOUND', what);
}

export class FsDeploymentStore implements DeploymentStore {
  readonly root: string;
  #tmp: string;
  #ready: Promise<void>;
  #journal: FsJournal;
  #blobs: FsBlobs;
  readonly #hostnames: FsHostnames;
  /** deployment records already read (immutable: read once, not once per file) */
  readonly #records = new RecordMemo<DeploymentRecord>();

  constructor(root: string, options: { lockWaitMs?: number } = {}) {
    this.root = path.resolve(root);
    this.#tmp = path.join(this.root, 'tmp');
    this.#journal = new FsJournal(this.root, options);
    this.#blobs = new FsBlobs(this.root, this.#tmp);
    this.#hostnames = new FsHostnames(
      (tenant) => path.join(this.#tenantDir(tenant), 'hostnames.json'),
      (file, data) => this.#write(file, data),
    );
    this.#ready = this.#init();
    // keep an unhandled rejection from escaping when nobody calls a method
    this.#ready.catch(() => {});
  }

  async #init(): Promise<void> {
    for (const dir of ['tmp', 'blobs', 'tenants', 'tokens', 'locks']) {
      await fs.mkdir(path.join(this.root, dir), { recursive: true, mode: 0o700 });
    }
    await this.#journal.sweep();
    const now = Date.now();
    for (const name of await listDir(this.#tmp)) {
      const file = path.join(this.#tmp, name);
      try {
        const s = await fs.lstat(file);
        if (now - s.mtimeMs > tmpGraceMs || name.startsWith('trash-'))
          await fs.rm(file, { recursive: true, force: true });
      } catch {
        // another process swept it first
      }
    }
  }

  // ---- paths ----

  #tenantDir(tenant: string): string {
    return path.join(this.root, 'tenants', checkTenantName(tenant));
  }
  #deploymentFile(tenant: string, id: string): string {
    return path.join(this.#tenantDir(tenant), 'deployments', `${checkId(id, 'deployment id')}.json`);
  }
  #cacheFile(tenant: string, id: string, modulePath: string, v8Version: string): string {
    const version = v8Version.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100) || '_';
    return path.join(
      this.#tenantDir(tenant),
      'cache',
      checkId(id, 'deployment id'),
      version,
      sha256(checkModulePath(modulePath)),
    );
  }

  async #write(file: string, data: Buffer | string): Promise<void> {
    await writeFileAtomic(this.#tmp, file, data);
  }

  async #logged(tenant: string, kind: ChangeKind, work: () => Promise<void>): Promise<number> {
    await this.#ready;
    return this.#journal.logged(tenant, kind, work);
  }

  // ---- tenants ----

  async listTenants(): Promise<TenantRecord[]> {
    await this.#ready;
    const out: TenantRecord[] = [];
    for (const name of (await listDir(path.join(this.root, 'tenants'))).sort()) {
      const record = await this.getTenant(name).catch(() => null);
      if (record) out.push(record);
    }
    return out;
  }

  async getTenant(name: string): Promise<TenantRecord | null> {
    await this.#ready;
    const dir = this.#tenantDir(name);
    const stored = await readJson<Omit<TenantRecord, 'active'>>(path.join(dir, 'tenant.json'));
    if (!stored) return null;
    const pointer = await readIfExists(path.join(dir, 'active'));
    const active = pointer ? pointer.toString('utf8').trim() || null : null;
    const record: TenantRecord = { name: stored.name, createdAt: stored.createdAt, active };
    if (stored.limits) record.limits = stored.limits;
    if (stored.bindings) record.bindings = stored.bindings;
    return record;
  }

  async putTenant(record: TenantRecord): Promise<number> {
    await this.#ready;
    const dir = this.#tenantDir(record.name);
    const file = path.join(dir, 'tenant.json');
    const kind: ChangeKind = (await readIfExists(file)) ? 'limits' : 'tenant';
    return this.#logged(record.name, kind, async () => {
      const existing = await readJson<Omit<TenantRecord, 'active'>>(file);
      const stored: Omit<TenantRecord, 'active'> = {
        name: record.name,
        createdAt: existing?.createdAt ?? record.createdAt ?? new Date().toISOString(),
      };
      if (record.limits && Object.keys(record.limits).length > 0) stored.limits = record.limits;
      if (record.bindings && Object.keys(record.bindings).length > 0) stored.bindings = record.bindings;
      await fs.mkdir(path.join(dir, 'deployments'), { recursive: true });
      await this.#write(file, JSON.stringify(stored, null, 2));
    });
  }

  async deleteTenant(name: string): Promise<number> {
    await this.#ready;
    const dir = this.#tenantDir(name);
    // One rename takes the whole tenant away at once; the slow recursive delete happens in tmp/.
    const trash = path.join(this.#tmp, `trash-${name}-${Date.now().toString(36)}-${process.pid}`);
    const revision = await this.#logged(name, 'tenant', async () => {
      if (!(await readIfExists(path.join(dir, 'tenant.json')))) throw notFound(`tenant '${name}' does not exist`);
      await fs.rename(dir, trash);
      for (const token of await this.listTokens(name)) await fs.rm(this.#tokenFile(token.id), { force: true });
    });
    this.#records.forgetTenant(name);
    await fs.rm(trash, { recursive: true, force: true });
    await collectGarbage(this.root, this.#blobs);
    return revision;
  }

  async #requireTenant(name: string): Promise<void> {
    if (!(await readIfExists(path.join(this.#tenantDir(name), 'tenant.json')))) {
      throw notFound(`tenant '${name}' does not exist`);
    }
  }

  // ---- deployments ----

  async putDeployment(manifest: DeploymentManifest, files: Map<string, Buffer>): Promise<number> {
    await this.#ready;
    const hashes = checkDeployment(manifest, files);
    await this.#requireTenant(manifest.tenant);
    const file = this.#deploymentFile(manifest.tenant, manifest.id);
    if (await readIfExists(file)) {
      throw new StoreError(
        'ISLET_STORE_CONFLICT',
        `deployment '${manifest.id}' of tenant '${manifest.tenant}' already exists`,
      );
    }
    // blobs first, durably; only then the record that names them
    await this.#blobs.writeAll(files, hashes);
    const record: DeploymentRecord = { manifest, files: hashes };
    return this.#logged(manifest.tenant, 'deployment', async () => {
      await this.#requireTenant(manifest.tenant);
      if (await readIfExists(file)) {
        throw new StoreError(
          'ISLET_STORE_CONFLICT',
          `deployment '${manifest.id}' of tenant '${manifest.tenant}' already exists`,
        );
      }
      await this.#blobs.restoreMissing(files, hashes);
      await this.#write(file, JSON.stringify(record));
      this.#records.set(manifest.tenant, manifest.id, record);
    });
  }

  async #record(tenant: string, id: string): Promise<DeploymentRecord | null> {
    const file = this.#deploymentFile(tenant, id);
    return this.#records.get(tenant, id, () => readJson<DeploymentRecord>(file));
  }

  async getDeployment(tenant: string, id: string): Promise<DeploymentManifest | null> {
    await this.#ready;
    return (await this.#record(tenant, id))?.manifest ?? null;
  }

  async listDeployments(tenant: string): Promise<DeploymentManifest[]> {
    await this.#ready;
    const dir = path.join(this.#tenantDir(tenant), 'deployments');
    const out: DeploymentManifest[] = [];
    for (const name of await listDir(dir)) {
      if (!name.endsWith('.json')) continue;
      const record = await readJson<DeploymentRecord>(path.join(dir, name)).catch(() => null);
      if (record) out.push(record.manifest);
    }
    // newest first; ids break ties between uploads in the same millisecond
    return out.sort((a, b) =>
      a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1,
    );
  }

  async deleteDeployment(tenant: string, id: string): Promise<number> {
    await this.#ready;
    const file = this.#deploymentFile(tenant, id);
    const revision = await this.#logged(tenant, 'deployment', async () => {
      const record = await readJson<DeploymentRecord>(file);
      if (!record) throw notFound(`deployment '${id}' of tenant '${tenant}' does not exist`);
      const active = (await this.getTenant(tenant))?.active;
      if (active === id) {
        throw new StoreError(
          'ISLET_STORE_ACTIVE_DEPLOYMENT',
          `deployment '${id}' is active for tenant '${tenant}': activate another one first`,
        );
      }
      await fs.rm(file, { force: true });
      this.#records.forgetDeployment(tenant, id);
      await dropUnreferenced(this.root, this.#blobs, Object.values(record.files));
    });
    await fs.rm(path.join(this.#tenantDir(tenant), 'cache', id), { recursive: true, force: true });
    await collectGarbage(this.root, this.#blobs);
    return revision;
  }

  async readFile(tenant: string, id: string, filePath: string): Promise<Buffer> {
    await this.#ready;
    const record = await this.#record(tenant, id);
    if (!record) throw notFound(`deployment '${id}' of tenant '${tenant}' does not exist`);
    const hash = record.files[filePath];
    if (!hash) throw notFound(`deployment '${id}' of tenant '${tenant}' has no file '${filePath}'`);
    const data = await this.#blobs.read(hash);
    if (!data)
      throw new StoreError(
        'ISLET_STORE_CORRUPT',
        `file '${filePath}' of deployment '${id}' (blob ${hash}) is missing from the store`,
      );
    return data;
  }

  /** every file of a deployment with its sha256 (consistency checks, export) */
  async deploymentFiles(tenant: string, id: string): Promise<Record<string, string>> {
    await this.#ready;
    const record = await this.#record(tenant, id);
    if (!record) throw notFound(`deployment '${id}' of tenant '${tenant}' does not exist`);
    return record.files;
  }

  async readCodeCache(tenant: string, id: string, modulePath: string, v8Version: string): Promise<Buffer | null> {
    await this.#ready;
    return readIfExists(this.#cacheFile(tenant, id, modulePath, v8Version));
  }

  async writeCodeCache(tenant: string, id: string, modulePath: string, v8Version: string, data: Buffer): Promise<void> {
    await this.#ready;
    if (!(await this.#record(tenant, id))) throw notFound(`deployment '${id}' of tenant '${tenant}' does not exist`);
    // a cache: renamed into place whole, but not fsynced (a lost one is made again; V8 checks them)
    await writeFileAtomic(this.#tmp, this.#cacheFile(tenant, id, modulePath, v8Version), data, false, false);
  }

  async activate(tenant: string, id: string, options: ActivateOptions = {}): Promise<number> {
    await this.#ready;
    checkId(id, 'deployment id');
    // Under the lock, the routes other tenants' active deployments claim cannot change between
    // the check and the pointer swap: of two racing activations, the second sees the first.
    return this.#logged(tenant, 'activation', async () => {
      await this.#requireTenant(tenant);
      const record = await this.#record(tenant, id);
      if (!record) throw notFound(`deployment '${id}' of tenant '${tenant}' does not exist`);
      const routes = record.manifest.routes ?? [];
      if (routes.length > 0) {
        const conflict = findRouteConflict(tenant, routes, await this.#claims(), options.conflicts);
        if (conflict) throw conflict;
      }
      await this.#write(path.join(this.#tenantDir(tenant), 'active'), id);
    });
  }

  /** the routes of every tenant's active deployment, by tenant name */
  async #claims(): Promise<RouteClaim[]> {
    const claims: RouteClaim[] = [];
    for (const tenant of await this.listTenants()) {
      if (!tenant.active) continue;
      const manifest = (await this.#record(tenant.name, tenant.active).catch(() => null))?.manifest;
      for (const route of manifest?.routes ?? []) claims.push({ route, tenant: tenant.name });
    }
    return claims;
  }

  // ---- env ----

  async getEnv(tenant: string): Promise<TenantEnv> {
    await this.#ready;
    const env = await readJson<TenantEnv>(path.join(this.#tenantDir(tenant), 'env.json'));
    return { vars: env?.vars ?? {}, secrets: env?.secrets ?? {} };
  }

  async putEnv(tenant: string, env: TenantEnv): Promise<number> {
    checkTenantName(tenant);
    return this.#logged(tenant, 'env', async () => {
      await this.#requireTenant(tenant);
      await this.#write(
        path.join(this.#tenantDir(tenant), 'env.json'),
        JSON.stringify({ vars: env.vars, secrets: env.secrets }),
      );
    });
  }

  // ---- hostnames ----

  async listHostnames(tenant: string): Promise<HostnameRecord[]> {
    await this.#ready;
    return this.#hostnames.list(tenant);
  }

  async putHostname(record: HostnameRecord): Promise<number> {
    checkTenantName(record.tenant);
    checkHostnameRecord(record);
    return this.#logged(record.tenant, 'hostname', async () => {
      await this.#requireTenant(record.tenant);
      await this.#hostnames.put(record);
    });
  }

  async deleteHostname(tenant: string, hostname: string): Promise<number> {
    checkTenantName(tenant);
    checkHostname(hostname);
    return this.#logged(tenant, 'hostname', () => this.#hostnames.delete(tenant, hostname));
  }

  // ---- tokens ----

  async listTokens(tenant?: string): Promise<TokenRecord[]> {
    await this.#ready;
    const dir = path.join(this.root, 'tokens');
    const out: TokenRecord[] = [];
    for (const name of await listDir(dir)) {
      if (!name.endsWith('.json')) continue;
      const record = await readJson<TokenRecord>(path.join(dir, name)).catch(() => null);
      if (record && (tenant === undefined || record.tenant === tenant)) out.push(record);
    }
    return out.sort((a, b) => (a.createdAt < b.createdAt ? -1 : 1));
  }

  #tokenFile(id: string): string {
    return path.join(this.root, 'tokens', `${checkId(id, 'token id')}.json`);
  }

  async putToken(record: TokenRecord): Promise<number> {
    await this.#ready;
    checkId(record.id, 'token id');
    checkTenantName(record.tenant);
    if (!/^[0-9a-f]{64}$/.test(record.hash))
      throw new StoreError('ISLET_STORE_INVALID_NAME', 'token hash must be a sha256 in hex');
    return this.#logged(record.tenant, 'token', async () => {
      await this.#requireTenant(record.tenant);
      const existing = (await this.listTokens()).find((t) => t.hash === record.hash && t.id !== record.id);
      if (existing)
        throw new StoreError('ISLET_STORE_CONFLICT', `another token (id '${existing.id}') has the same hash`);
      await this.#write(this.#tokenFile(record.id), JSON.stringify(record));
    });
  }

  async deleteToken(id: string): Promise<number> {
    await this.#ready;
    const file = this.#tokenFile(id);
    const record = await readJson<TokenRecord>(file);
    if (!record) throw notFound(`token '${id}' does not exist`);
    return this.#logged(record.tenant, 'token', async () => {
      if (!(await readIfExists(file))) throw notFound(`token '${id}' does not exist`);
      await fs.rm(file, { force: true });
    });
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | null> {
    const tokens = await this.listTokens();
    return tokens.find((t) => t.hash === hash) ?? null;
  }

  // ---- changes ----

  async currentRevision(): Promise<number> {
    await this.#ready;
    return this.#journal.currentRevision();
  }

  async changesSince(revision: number, limit = 1000): Promise<LoggedChange[]> {
    await this.#ready;
    return this.#journal.changesSince(revision, limit);
  }

  openFeed(options: ChangeFeedOptions = {}): ChangeFeed {
    return this.#journal.openFeed({ from: options.from, pollMs: options.pollMs ?? 3000 });
  }

  async health(): Promise<StoreHealth> {
    try {
      await this.#ready;
      await fs.access(this.root, fs.constants.W_OK);
      return { state: 'ok', backend: 'fs', revision: await this.#journal.currentRevision() };
    } catch (error) {
      return {
        state: 'degraded',
        backend: 'fs',
        revision: null,
        reason: `the data folder ${this.root} is not writable: ${(error as Error).message}`,
      };
    }
  }

  watch(listener: (change: StoreChange) => void): () => void {
    // the revision is read now, synchronously: a caller that read the store and then called
    // watch() hears about every change made after its call, none falls in between
    return watchFeed(this.openFeed({ from: this.#journal.currentRevisionSync() }), listener);
  }

  async close(): Promise<void> {
    await this.#journal.close();
    await this.#ready.catch(() => {});
  }
}
