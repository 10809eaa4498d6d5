// The SQL of the PostgreSQL store's writes that take several statements, run inside the write's
// transaction (db.ts), and the mapping of rows to records. store.ts decides what runs when;
// this file says how.
import { StoreError } from '../../errors';
import { findRouteConflict, type RouteClaim, routeKey } from '../route-claims';
import type { DeploymentManifest, TenantRecord, TokenRecord } from '../types';
import type { Db, Queryable } from './db';
import { lockKeys } from './migrations';

export interface TenantRow {
  name: string;
  created_at: string;
  limits: Record<string, number> | null;
  active: string | null;
  /** migration 2; absent when a node of this version reads before migrating (never: it migrates at start) */
  bindings?: Record<string, unknown> | null;
}

export interface TokenRow {
  id: string;
  tenant: string;
  hash: string;
  created_at: string;
  description: string | null;
}

/** a deployment's manifest and its files (path -> sha256) */
export interface DeploymentRecord {
  manifest: DeploymentManifest;
  files: Record<string, string>;
}

export const notFound = (what: string) => new StoreError('ISLET_STORE_NOT_FOUND', what);
/** unreferenced blobs younger than this are kept: an upload in flight may be about to name them */
const blobGrace = '10 minutes';

export function tenantRecord(row: TenantRow): TenantRecord {
  const record: TenantRecord = { name: row.name, createdAt: row.created_at, active: row.active };
  if (row.limits && Object.keys(row.limits).length > 0) record.limits = row.limits;
  if (row.bindings && Object.keys(row.bindings).length > 0) record.bindings = row.bindings;
  return record;
}

export function tokenRecord(row: TokenRow): TokenRecord {
  const record: TokenRecord = { id: row.id, tenant: row.tenant, hash: row.hash, createdAt: row.created_at };
  if (row.description !== null) record.description = row.description;
  return record;
}

/** the tenant's row, locked for the rest of the transaction; STORE_NOT_FOUND when absent */
export async function requireTenant(
  q: Queryable,
  tenant: string,
  lock: 'FOR UPDATE' | 'FOR SHARE',
): Promise<TenantRow> {
  const { rows } = await q.query<TenantRow>(`SELECT * FROM islet.tenants WHERE name = $1 ${lock}`, [tenant]);
  if (!rows[0]) throw notFound(`tenant '${tenant}' does not exist`);
  return rows[0];
}

/** stores a checked deployment: its blobs not yet stored (`blobs`: sha256 -> bytes), record and files */
export async function insertDeployment(
  q: Queryable,
  manifest: DeploymentManifest,
  hashes: Record<string, string>,
  blobs: Map<string, Buffer>,
): Promise<void> {
  await requireTenant(q, manifest.tenant, 'FOR SHARE');
  const exists = await q.query('SELECT 1 FROM islet.deployments WHERE tenant = $1 AND id = $2', [
    manifest.tenant,
    manifest.id,
  ]);
  if (exists.rowCount) {
    throw new StoreError(
      'ISLET_STORE_CONFLICT',
      `deployment '${manifest.id}' of tenant '${manifest.tenant}' already exists`,
    );
  }
  // Blobs already stored are not sent again; touching them locks their rows and makes them
  // young, so a concurrent garbage collection cannot take them before this commits.
  const { rows } = await q.query<{ hash: string }>(
    'UPDATE islet.blobs SET stored_at = now() WHERE hash = ANY($1) RETURNING hash',
    [[...blobs.keys()]],
  );
  const present = new Set(rows.map((r) => r.hash));
  for (const [hash, data] of blobs) {
    if (present.has(hash)) continue;
    await q.query(
      `INSERT INTO islet.blobs (hash, size, data) VALUES ($1, $2, $3)
       ON CONFLICT (hash) DO UPDATE SET stored_at = now()`,
      [hash, data.length, data],
    );
  }
  await q.query('INSERT INTO islet.deployments (tenant, id, created_at, manifest) VALUES ($1, $2, $3, $4)', [
    manifest.tenant,
    manifest.id,
    manifest.createdAt,
    JSON.stringify(manifest),
  ]);
  await q.query(
    `INSERT INTO islet.deployment_files (tenant, deployment, path, hash)
     SELECT $1, $2, p, h FROM unnest($3::text[], $4::text[]) AS f(p, h)`,
    [manifest.tenant, manifest.id, Object.keys(hashes), Object.values(hashes)],
  );
}

export async function selectDeployment(db: Db, tenant: string, id: string): Promise<DeploymentRecord | null> {
  const { rows } = await db.query<{ manifest: DeploymentManifest; files: Record<string, string> | null }>(
    `SELECT d.manifest, (SELECT json_object_agg(f.path, f.hash) FROM islet.deployment_files f
       WHERE f.tenant = d.tenant AND f.deployment = d.id) AS files
     FROM islet.deployments d WHERE d.tenant = $1 AND d.id = $2`,
    [tenant, id],
  );
  return rows[0] ? { manifest: rows[0].manifest, files: rows[0].files ?? {} } : null;
}

/**
 * Points the tenant at deployment `id` and claims its routes in its place. Claims are made one
 * claimer at a time (an advisory lock held to the end of the transaction), so each sees every
 * claim committed before it; the unique key on the route is the floor beneath that.
 */
export async function activateDeployment(
  q: Queryable,
  tenant: string,
  id: string,
  conflicts: ((mine: string, theirs: string) => boolean) | undefined,
): Promise<void> {
  await requireTenant(q, tenant, 'FOR UPDATE');
  const { rows } = await q.query<{ routes: string[] | null }>(
    `SELECT manifest->'routes' AS routes FROM islet.deployments WHERE tenant = $1 AND id = $2`,
    [tenant, id],
  );
  if (!rows[0]) throw notFound(`deployment '${id}' of tenant '${tenant}' does not exist`);
  const routes = rows[0].routes ?? [];
  await q.query('DELETE FROM islet.routes WHERE tenant = $1', [tenant]);
  if (routes.length > 0) {
    await q.query('SELECT pg_advisory_xact_lock($1)', [lockKeys.routes]);
    const claims = await q.query<RouteClaim>(
      'SELECT pattern AS route, tenant FROM islet.routes WHERE tenant <> $1 ORDER BY tenant COLLATE "C", position',
      [tenant],
    );
    const conflict = findRouteConflict(tenant, routes, claims.rows, conflicts);
    if (conflict) throw conflict;
    const unique = [...new Map(routes.map((route) => [routeKey(route), route])).entries()];
    try {
      await q.query(
        `INSERT INTO islet.routes (route, pattern, tenant, deployment, position)
         SELECT k, p, $1, $2, n FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS r(k, p, n)`,
        [tenant, id, unique.map(([key]) => key), unique.map(([, route]) => route)],
      );
    } catch (error) {
      if ((error as { code?: string }).code !== '23505') throw error;
      throw new StoreError(
        'ISLET_STORE_ROUTE_TAKEN',
        `a route of deployment '${id}' is already served by another tenant`,
      );
    }
  }
  await q.query('UPDATE islet.tenants SET active = $2 WHERE name = $1', [tenant, id]);
}

export async function upsertToken(q: Queryable, record: TokenRecord): Promise<void> {
  await requireTenant(q, record.tenant, 'FOR SHARE');
  const other = await q.query<{ id: string }>('SELECT id FROM islet.tokens WHERE hash = $1 AND id <> $2', [
    record.hash,
    record.id,
  ]);
  if (other.rows[0])
    throw new StoreError('ISLET_STORE_CONFLICT', `another token (id '${other.rows[0].id}') has the same hash`);
  await q.query(
    `INSERT INTO islet.tokens (id, tenant, hash, created_at, description) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (id) DO UPDATE SET tenant = EXCLUDED.tenant, hash = EXCLUDED.hash,
       created_at = EXCLUDED.created_at, description = EXCLUDED.description`,
    [record.id, record.tenant, record.hash, record.createdAt, record.description ?? null],
  );
}

/** removes blobs no deployment names any more (best effort: a failure leaves them for next time) */
export async function collectGarbage(db: Db): Promise<void> {
  await db
    .query(
      `DELETE FROM islet.blobs b WHERE b.stored_at < now() - interval '${blobGrace}'
       AND NOT EXISTS (SELECT 1 FROM islet.deployment_files f WHERE f.hash = b.hash)`,
    )
    .catch(() => {});
}
