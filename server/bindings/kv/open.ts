// The KV backend a node's settings name: with a postgres:// store.url, PostgreSQL (the data every
// node shares, in the store's database, with a pool of its own so KV traffic and store reads do
// not queue behind each other); otherwise one SQLite file in the data folder.
import path from 'node:path';
import type { Config } from '../../config';
import { storeKind } from '../../store/open';
import { Db } from '../../store/postgres/db';
import { migrate } from '../../store/postgres/migrations';
import type { KvBackend } from './backend';
import { PostgresKvBackend } from './postgres';
import { SqliteKvBackend } from './sqlite';

export function openKvBackend(config: Config): KvBackend {
  if (storeKind(config.store.url) !== 'postgres') return new SqliteKvBackend(path.join(config.dataDir, 'kv.sqlite'));
  const db = new Db({
    url: config.store.url,
    poolSize: config.store.poolSize,
    sslMode: config.store.sslMode,
    sslCaFile: config.store.sslCaFile || undefined,
  });
  return new PostgresKvBackend({ db, migrate: () => migrate(db.pool) });
}
