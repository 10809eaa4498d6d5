// The KV contract (kv-contract.ts) on both backends: SQLite in a data folder, and PostgreSQL
// (a private cluster; skipped with the install command when PostgreSQL is absent, unless CI).
// On PostgreSQL, two backends (two nodes) see each other's writes at once.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PostgresKvBackend } from '../../server/bindings/kv/postgres';
import { SqliteKvBackend } from '../../server/bindings/kv/sqlite';
import { Db } from '../../server/store/postgres/db';
import { migrate } from '../../server/store/postgres/migrations';
import { PostgresCluster, needsPostgres } from '../support/postgres';
import { kvContract } from './kv-contract';

describe('KV on SQLite', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-kv-contract-'));
  const backend = new SqliteKvBackend(path.join(dir, 'kv.sqlite'));
  after(async () => {
    await backend.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  kvContract(async () => ({ backend, sweep: () => backend.sweepExpired() }));
});

describe('KV on PostgreSQL', needsPostgres(), () => {
  let pg: PostgresCluster;
  let url: string;
  const opened: PostgresKvBackend[] = [];
  const connect = () => {
    const db = new Db({ url, poolSize: 5 });
    const backend = new PostgresKvBackend({ db, migrate: () => migrate(db.pool) });
    opened.push(backend);
    return backend;
  };
  before(async () => {
    pg = await PostgresCluster.start();
    url = await pg.createDatabase();
  });
  after(async () => {
    await Promise.all(opened.map((b) => b.close()));
    await pg?.teardown();
  });
  let shared: PostgresKvBackend | null = null;
  kvContract(async () => {
    shared ??= connect();
    const backend = shared;
    return { backend, sweep: () => backend.sweepExpired() };
  });

  test('two nodes: a write on one is read on the other at once; quotas hold across them', async () => {
    const a = connect();
    const b = connect();
    const ns = { tenant: 'across', namespace: 'n' };
    await a.put(ns, 'k', { value: Buffer.from('from a'), metadata: null, expiration: null }, { bytes: 100, keys: 3 });
    assert.deepEqual((await b.get(ns, 'k'))?.value, Buffer.from('from a'));
    const quota = { bytes: 1 << 20, keys: 8 };
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? a : b).put(ns, `r${i}`, { value: Buffer.from('v'), metadata: null, expiration: null }, quota),
      ),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 7, 'one key was there: 7 more fit in 8');
    assert.equal((await a.usage('across')).keys, 8);
  });

  test('the database gone: calls fail with STORE_UNAVAILABLE, they do not hang; it works again after', async () => {
    const backend = connect();
    const ns = { tenant: 'outage', namespace: 'n' };
    await backend.put(ns, 'k', { value: Buffer.from('v'), metadata: null, expiration: null }, { bytes: 100, keys: 10 });
    await pg.stopServer();
    try {
      await assert.rejects(backend.get(ns, 'k'), { code: 'ISLET_STORE_UNAVAILABLE' });
      await assert.rejects(
        backend.put(ns, 'k2', { value: Buffer.from('v'), metadata: null, expiration: null }, { bytes: 100, keys: 10 }),
        { code: 'ISLET_STORE_UNAVAILABLE' },
      );
    } finally {
      await pg.startServer();
    }
    assert.deepEqual((await backend.get(ns, 'k'))?.value, Buffer.from('v'));
  });
});
