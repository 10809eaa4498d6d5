// Hostname records in PostgreSQL (table islet.hostnames, migration 2): one row per tenant and
// hostname, gone with the tenant (ON DELETE CASCADE).
import { StoreError } from '../../errors';
import { normalHostnameRecord } from '../hostnames';
import type { HostnameRecord } from '../types';
import type { Db, Queryable } from './db';
import { requireTenant } from './statements';

interface HostnameRow {
  tenant: string;
  hostname: string;
  token: string;
  verified_by: HostnameRecord['verifiedBy'];
  created_at: string;
  verified_at: string | null;
}

function hostnameRecord(row: HostnameRow): HostnameRecord {
  const record: HostnameRecord = {
    tenant: row.tenant,
    hostname: row.hostname,
    token: row.token,
    verifiedBy: row.verified_by,
    createdAt: row.created_at,
  };
  if (row.verified_at) record.verifiedAt = row.verified_at;
  return record;
}

export async function selectHostnames(db: Db, tenant: string): Promise<HostnameRecord[]> {
  const { rows } = await db.query<HostnameRow>(
    'SELECT * FROM islet.hostnames WHERE tenant = $1 ORDER BY hostname COLLATE "C"',
    [tenant],
  );
  return rows.map(hostnameRecord);
}

export async function upsertHostname(q: Queryable, record: HostnameRecord): Promise<void> {
  await requireTenant(q, record.tenant, 'FOR SHARE');
  const r = normalHostnameRecord(record);
  await q.query(
    `INSERT INTO islet.hostnames (tenant, hostname, token, verified_by, created_at, verified_at)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (tenant, hostname) DO UPDATE SET token = EXCLUDED.token, verified_by = EXCLUDED.verified_by,
       created_at = EXCLUDED.created_at, verified_at = EXCLUDED.verified_at`,
    [r.tenant, r.hostname, r.token, r.verifiedBy, r.createdAt, r.verifiedAt ?? null],
  );
}

export async function removeHostname(q: Queryable, tenant: string, hostname: string): Promise<void> {
  const { rowCount } = await q.query('DELETE FROM islet.hostnames WHERE tenant = $1 AND hostname = $2', [
    tenant,
    hostname,
  ]);
  if (!rowCount) throw new StoreError('ISLET_STORE_NOT_FOUND', `tenant '${tenant}' has no hostname '${hostname}'`);
}
