// The default DeploymentStore: a folder on local disk (ISLET_DATA_DIR), shared safely by every
// process of one machine.
//
//   generation                       bumped (by rename) on every change; watchers poll it
//   tmp/                             temp files of in-flight writes; leftovers swept at open
//   blobs/<2 hex>/<sha256>           content-addressed files (modules, source maps), immutable
//   tenants/<t>/tenant.json          name, createdAt, limits
//   tenants/<t>/active               the pointer: id of the active deployment (absent: none)
//   tenants/<t>/env.json             vars and secrets (mode 0600 like every file here)
//   tenants/<t>/deployments/<id>.json  manifest + path -> sha256 of each file
//   tenants/<t>/cache/<id>/<v8>/<sha256 of path>  V8 code cache of one module
//   tokens/<id>.json                 deploy tokens (hash only)
//
// Every write is temp + fsync + rename + fsync of the folder (atomic.ts). A deployment's blobs
// are written before its record, and the record before any pointer names it, so after a crash
// at any moment a record always names complete blobs and a pointer a complete record; the worst
// left behind is unreferenced blobs, swept by the garbage collection that deletions run.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fsyncDir, listDir, readIfExists, readJson, writeFileAtomic } from './atomic';
import { StoreError } from '../errors';
import { checkId, checkModulePath, checkTenantName } from './names';
import type { DeploymentManifest, DeploymentStore, StoreChange, TenantEnv, TenantRecord, TokenRecord } from './types';
import { StorePoller } from './watcher';

/** What a deployment record on disk holds. */
interface DeploymentRecord {
  manifest: DeploymentManifest;
  /** every stored file of the deployment (modules and source maps): path -> sha256 */
  files: Record<string, string>;
}

/** Unreferenced blobs younger than this are kept: a concurrent upload may be about to name them. */
const blobGraceMs = 10 * 60 * 1000;
/** blobs written at once by one upload: enough to overlap fsyncs, few enough to be polite */
const blobWriteConcurrency = 8;
/** Temp files older than this at open belong to writers that died. */
const tmpGraceMs = 10 * 60 * 1000;

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function notFound(what: string): StoreError {
  return new StoreError('ISLET_STORE_NOT_FOUND', what);
}

export class FsDeploymentStore implements DeploymentStore {
  readonly root: string;
  #tmp: string;
  #ready: Promise<void>;
  #poller: StorePoller;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.#tmp = path.join(this.root, 'tmp');
    this.#poller = new StorePoller(this.root);
    this.#ready = this.#init();
    // keep an unhandled rejection from escaping when nobody calls a method
    this.#ready.catch(() => {});
  }

  async #init(): Promise<void> {
    for (const dir of ['tmp', 'blobs', 'tenants', 'tokens']) {
      await fs.mkdir(path.join(this.root, dir), { recursive: true, mode: 0o700 });
    }
    const now = Date.now();
    for (const name of await listDir(this.#tmp)) {
      const file = path.join(this.#tmp, name);
      try {
        const s = await fs.lstat(file);
        if (now - s.mtimeMs > tmpGraceMs || name.startsWith('trash-')) await fs.rm(file, { recursive: true, force: true });
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
  #blobFile(hash: string): string {
    return path.join(this.root, 'blobs', hash.slice(0, 2), hash);
  }
  #cacheFile(tenant: string, id: string, modulePath: string, v8Version: string): string {
    const version = v8Version.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100) || '_';
    return path.join(this.#tenantDir(tenant), 'cache', checkId(id, 'deployment id'), version, sha256(checkModulePath(modulePath)));
  }

  async #write(file: string, data: Buffer | string): Promise<void> {
    await writeFileAtomic(this.#tmp, file, data);
  }

  /** tells every watcher (this process and others) that something changed */
  async #bump(): Promise<void> {
    await this.#write(path.join(this.root, 'generation'), `${Date.now()} ${process.pid}\n`);
    this.#poller.poke();
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
    return record;
  }

  async putTenant(record: TenantRecord): Promise<void> {
    await this.#ready;
    const dir = this.#tenantDir(record.name);
    const existing = await readJson<Omit<TenantRecord, 'active'>>(path.join(dir, 'tenant.json'));
    const stored: Omit<TenantRecord, 'active'> = {
      name: record.name,
      createdAt: existing?.createdAt ?? record.createdAt ?? new Date().toISOString(),
    };
    if (record.limits && Object.keys(record.limits).length > 0) stored.limits = record.limits;
    await fs.mkdir(path.join(dir, 'deployments'), { recursive: true });
    await this.#write(path.join(dir, 'tenant.json'), JSON.stringify(stored, null, 2));
    await this.#bump();
  }

  async deleteTenant(name: string): Promise<void> {
    await this.#ready;
    const dir = this.#tenantDir(name);
    if (!(await readIfExists(path.join(dir, 'tenant.json')))) throw notFound(`tenant '${name}' does not exist`);
    // One rename takes the whole tenant away at once; the slow recursive delete happens in tmp/.
    const trash = path.join(this.#tmp, `trash-${name}-${Date.now().toString(36)}-${process.pid}`);
    await fs.rename(dir, trash);
    await fs.rm(trash, { recursive: true, force: true });
    for (const token of await this.listTokens(name)) await this.deleteToken(token.id);
    await this.#bump();
    await this.#collectGarbage();
  }

  async #requireTenant(name: string): Promise<void> {
    if (!(await readIfExists(path.join(this.#tenantDir(name), 'tenant.json')))) {
      throw notFound(`tenant '${name}' does not exist`);
    }
  }

  // ---- deployments ----

  async putDeployment(manifest: DeploymentManifest, files: Map<string, Buffer>): Promise<void> {
    await this.#ready;
    checkTenantName(manifest.tenant);
    checkId(manifest.id, 'deployment id');
    await this.#requireTenant(manifest.tenant);
    const file = this.#deploymentFile(manifest.tenant, manifest.id);
    if (await readIfExists(file)) {
      throw new StoreError('ISLET_STORE_CONFLICT', `deployment '${manifest.id}' of tenant '${manifest.tenant}' already exists`);
    }
    const hashes: Record<string, string> = {};
    for (const [p, data] of files) hashes[checkModulePath(p)] = sha256(data);
    for (const mod of manifest.modules) {
      if (!files.has(mod.path)) throw new StoreError('ISLET_STORE_CORRUPT', `module '${mod.path}' is in the manifest but not among the files`);
      if (hashes[mod.path] !== mod.sha256) throw new StoreError('ISLET_STORE_CORRUPT', `module '${mod.path}' does not match its sha256 in the manifest`);
      if (mod.sourceMap && !files.has(mod.sourceMap)) {
        throw new StoreError('ISLET_STORE_CORRUPT', `source map '${mod.sourceMap}' of '${mod.path}' is not among the files`);
      }
    }
    if (!files.has(manifest.entry)) throw new StoreError('ISLET_STORE_CORRUPT', `entry '${manifest.entry}' is not among the files`);
    // Blobs are written a few at a time, their folders fsynced once each, and only then the
    // record that names them.
    const pending = [...files].map(([p, data]) => ({ hash: hashes[p]!, data }));
    const written = new Set<string>();
    for (let i = 0; i < pending.length; i += blobWriteConcurrency) {
      const batch = pending.slice(i, i + blobWriteConcurrency);
      const results = await Promise.all(batch.map((b) => this.#putBlob(b.hash, b.data)));
      results.forEach((wrote, j) => wrote && written.add(path.dirname(this.#blobFile(batch[j]!.hash))));
    }
    for (const dir of written) await fsyncDir(dir);
    const record: DeploymentRecord = { manifest, files: hashes };
    await this.#write(file, JSON.stringify(record));
    // A garbage collection in another process may have judged a reused blob unreferenced and
    // removed it between our refresh of its age and the record's write: put such a blob back.
    for (const [p, data] of files) {
      const blob = this.#blobFile(hashes[p]!);
      const present = await fs.stat(blob).then(
        () => true,
        () => false,
      );
      if (!present) await this.#write(blob, data);
    }
  }

  /** stores one blob unless present; true when it wrote (its folder then needs an fsync) */
  async #putBlob(hash: string, data: Buffer): Promise<boolean> {
    const file = this.#blobFile(hash);
    try {
      // Already stored: refresh its age so a concurrent garbage collection keeps it.
      const now = new Date();
      await fs.utimes(file, now, now);
      return false;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    await writeFileAtomic(this.#tmp, file, data, false);
    return true;
  }

  async #record(tenant: string, id: string): Promise<DeploymentRecord | null> {
    return readJson<DeploymentRecord>(this.#deploymentFile(tenant, id));
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
    return out.sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1));
  }

  async deleteDeployment(tenant: string, id: string): Promise<void> {
    await this.#ready;
    const file = this.#deploymentFile(tenant, id);
    if (!(await readIfExists(file))) throw notFound(`deployment '${id}' of tenant '${tenant}' does not exist`);
    const active = (await this.getTenant(tenant))?.active;
    if (active === id) {
      throw new StoreError('ISLET_STORE_ACTIVE_DEPLOYMENT', `deployment '${id}' is active for tenant '${tenant}': activate another one first`);
    }
    await fs.rm(file, { force: true });
    await fs.rm(path.join(this.#tenantDir(tenant), 'cache', id), { recursive: true, force: true });
    await this.#collectGarbage();
  }

  async readFile(tenant: string, id: string, filePath: string): Promise<Buffer> {
    await this.#ready;
    const record = await this.#record(tenant, id);
    if (!record) throw notFound(`deployment '${id}' of tenant '${tenant}' does not exist`);
    const hash = record.files[filePath];
    if (!hash) throw notFound(`deployment '${id}' of tenant '${tenant}' has no file '${filePath}'`);
    const data = await readIfExists(this.#blobFile(hash));
    if (!data) throw new StoreError('ISLET_STORE_CORRUPT', `file '${filePath}' of deployment '${id}' (blob ${hash}) is missing from the store`);
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
    await this.#write(this.#cacheFile(tenant, id, modulePath, v8Version), data);
  }

  async activate(tenant: string, id: string): Promise<void> {
    await this.#ready;
    await this.#requireTenant(tenant);
    if (!(await this.#record(tenant, id))) throw notFound(`deployment '${id}' of tenant '${tenant}' does not exist`);
    await this.#write(path.join(this.#tenantDir(tenant), 'active'), id);
    await this.#bump();
  }

  // ---- env ----

  async getEnv(tenant: string): Promise<TenantEnv> {
    await this.#ready;
    const env = await readJson<TenantEnv>(path.join(this.#tenantDir(tenant), 'env.json'));
    return { vars: env?.vars ?? {}, secrets: env?.secrets ?? {} };
  }

  async putEnv(tenant: string, env: TenantEnv): Promise<void> {
    await this.#ready;
    await this.#requireTenant(tenant);
    await this.#write(path.join(this.#tenantDir(tenant), 'env.json'), JSON.stringify({ vars: env.vars, secrets: env.secrets }));
    await this.#bump();
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

  async putToken(record: TokenRecord): Promise<void> {
    await this.#ready;
    checkId(record.id, 'token id');
    checkTenantName(record.tenant);
    if (!/^[0-9a-f]{64}$/.test(record.hash)) throw new StoreError('ISLET_STORE_INVALID_NAME', 'token hash must be a sha256 in hex');
    await this.#write(path.join(this.root, 'tokens', `${record.id}.json`), JSON.stringify(record));
  }

  async deleteToken(id: string): Promise<void> {
    await this.#ready;
    const file = path.join(this.root, 'tokens', `${checkId(id, 'token id')}.json`);
    if (!(await readIfExists(file))) throw notFound(`token '${id}' does not exist`);
    await fs.rm(file, { force: true });
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | null> {
    const tokens = await this.listTokens();
    return tokens.find((t) => t.hash === hash) ?? null;
  }

  // ---- changes ----

  watch(listener: (change: StoreChange) => void): () => void {
    return this.#poller.subscribe(listener);
  }

  async close(): Promise<void> {
    this.#poller.stop();
    await this.#ready.catch(() => {});
  }

  // ---- maintenance ----

  /** removes blobs no deployment names any more (older than the grace period) */
  async #collectGarbage(): Promise<void> {
    const referenced = new Set<string>();
    const tenantsDir = path.join(this.root, 'tenants');
    for (const tenant of await listDir(tenantsDir)) {
      const dir = path.join(tenantsDir, tenant, 'deployments');
      for (const name of await listDir(dir)) {
        const record = await readJson<DeploymentRecord>(path.join(dir, name)).catch(() => null);
        if (record) for (const hash of Object.values(record.files)) referenced.add(hash);
      }
    }
    const now = Date.now();
    const blobs = path.join(this.root, 'blobs');
    for (const prefix of await listDir(blobs)) {
      for (const hash of await listDir(path.join(blobs, prefix))) {
        if (referenced.has(hash)) continue;
        const file = path.join(blobs, prefix, hash);
        try {
          if (now - (await fs.stat(file)).mtimeMs > blobGraceMs) await fs.rm(file, { force: true });
        } catch {
          // removed by another process meanwhile
        }
      }
    }
  }
}
