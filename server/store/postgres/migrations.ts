// The PostgreSQL schema, as numbered migrations applied in order, each in its own transaction,
// recorded in islet.schema_migrations. islet applies the missing ones at start and
// `islet store migrate` on demand; a session advisory lock makes two nodes starting at once take
// turns (the second finds the work done). Migrations only add (tables, columns, indexes), so a
// node of the previous version keeps working on a database a newer node has migrated: upgrade one
// node at a time. Later migrations add KV data and cron slots (migration 2 adds tenant bindings).
import type { Pool } from 'pg';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** advisory lock keys (pg_advisory_lock takes any bigint; these spell "islet" + a number) */
export const lockKeys = { migrate: 0x69736c65_74_01, routes: 0x69736c65_74_02, changes: 0x69736c65_74_03 } as const;

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'tenants, deployments, blobs, env, tokens, routes, changes',
    sql: `
-- Texts that come from JSON (manifests, limits, vars) are json, not jsonb, so they read back
-- byte for byte as written (key order included). Times the API shows are kept as the ISO text
-- the writer made, so both stores sort them alike.
CREATE TABLE islet.tenants (
  name       text PRIMARY KEY,
  created_at text NOT NULL,
  limits     json,
  active     text
);

-- content-addressed module sources and source maps, stored once whoever uploads them
CREATE TABLE islet.blobs (
  hash      text PRIMARY KEY CHECK (hash ~ '^[0-9a-f]{64}$'),
  size      integer NOT NULL,
  data      bytea NOT NULL,
  -- refreshed by every upload that reuses the blob: garbage collection keeps young blobs
  stored_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE islet.deployments (
  tenant     text NOT NULL REFERENCES islet.tenants (name) ON DELETE CASCADE,
  id         text NOT NULL,
  created_at text NOT NULL,
  manifest   json NOT NULL,
  PRIMARY KEY (tenant, id)
);

-- the active pointer names a stored deployment of the same tenant (checked at the end of each
-- statement, so deleting a tenant with its deployments in one statement works)
ALTER TABLE islet.tenants ADD CONSTRAINT tenants_active_deployment
  FOREIGN KEY (name, active) REFERENCES islet.deployments (tenant, id);

CREATE TABLE islet.deployment_files (
  tenant     text NOT NULL,
  deployment text NOT NULL,
  path       text NOT NULL,
  hash       text NOT NULL REFERENCES islet.blobs (hash),
  PRIMARY KEY (tenant, deployment, path),
  FOREIGN KEY (tenant, deployment) REFERENCES islet.deployments (tenant, id) ON DELETE CASCADE
);
CREATE INDEX deployment_files_hash ON islet.deployment_files (hash);

CREATE TABLE islet.env (
  tenant  text PRIMARY KEY REFERENCES islet.tenants (name) ON DELETE CASCADE,
  vars    json NOT NULL,
  -- AES-256-GCM (iv | tag | ciphertext) of the secrets as JSON, under the key named key_id
  secrets bytea,
  key_id  text
);

CREATE TABLE islet.tokens (
  id          text PRIMARY KEY,
  tenant      text NOT NULL REFERENCES islet.tenants (name) ON DELETE CASCADE,
  hash        text NOT NULL UNIQUE,
  created_at  text NOT NULL,
  description text
);

-- One row per route an active deployment claims. The key is the route with its host in lower
-- case: the unique constraint two racing claims of the same route meet at. Overlaps (prefixes,
-- wildcards) are checked under an advisory lock by the activation that claims.
CREATE TABLE islet.routes (
  route      text PRIMARY KEY,
  pattern    text NOT NULL,
  tenant     text NOT NULL REFERENCES islet.tenants (name) ON DELETE CASCADE,
  deployment text NOT NULL,
  position   integer NOT NULL
);
CREATE INDEX routes_tenant ON islet.routes (tenant);

-- The change log: every write adds one row in its own transaction, under an advisory lock
-- taken just before the insert, so revisions become visible in the order they were given.
CREATE TABLE islet.changes (
  revision bigserial PRIMARY KEY,
  tenant   text NOT NULL,
  kind     text NOT NULL,
  at       timestamptz NOT NULL DEFAULT clock_timestamp()
);
`,
  },
  {
    version: 2,
    name: 'tenant bindings',
    sql: `
-- the bindings a tenant's configuration declares (KV namespaces, services, crons, callers...);
-- a deployment's own declarations travel in its manifest
ALTER TABLE islet.tenants ADD COLUMN bindings json;
`,
  },
  {
    version: 3,
    name: 'hostnames',
    sql: `
-- Custom hostnames a tenant may route: assigned by the operator or proved by the tenant (a DNS
-- TXT record or an HTTP token), or pending proof (verified_by NULL).
CREATE TABLE islet.hostnames (
  tenant      text NOT NULL REFERENCES islet.tenants (name) ON DELETE CASCADE,
  hostname    text NOT NULL,
  token       text NOT NULL,
  verified_by text CHECK (verified_by IN ('operator', 'dns', 'http')),
  created_at  text NOT NULL,
  verified_at text,
  PRIMARY KEY (tenant, hostname)
);
`,
  },
];

export const latestVersion = migrations[migrations.length - 1]!.version;

export interface MigrationResult {
  /** versions applied by this call */
  applied: number[];
  /** the database's version afterwards */
  version: number;
  /** the database is at a version this islet does not know (a newer node migrated it) */
  newer: boolean;
}

export async function migrate(pool: Pool): Promise<MigrationResult> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [lockKeys.migrate]);
    try {
      await client.query('CREATE SCHEMA IF NOT EXISTS islet');
      await client.query(`CREATE TABLE IF NOT EXISTS islet.schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const { rows } = await client.query<{ version: number }>('SELECT version FROM islet.schema_migrations');
      const done = new Set(rows.map((r) => r.version));
      const applied: number[] = [];
      for (const migration of migrations) {
        if (done.has(migration.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(migration.sql);
          await client.query('INSERT INTO islet.schema_migrations (version, name) VALUES ($1, $2)', [
            migration.version,
            migration.name,
          ]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK').catch(() => {});
          throw new Error(`migration ${migration.version} (${migration.name}) failed: ${(error as Error).message}`, {
            cause: error,
          });
        }
        applied.push(migration.version);
        done.add(migration.version);
      }
      const version = Math.max(0, ...done);
      return { applied, version, newer: version > latestVersion };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [lockKeys.migrate]).catch(() => {});
    }
  } finally {
    client.release();
  }
}
