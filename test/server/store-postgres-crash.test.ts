// kill -9 of the admin server on the PostgreSQL store in the middle of uploads, activations and env
// writes, at random moments, as deploy-crash.test.ts does for the directory store: every write is
// one transaction, so the database holds each deployment whole or not at all, every blob matches
// its hash, and the killed session's locks are gone.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { build } from '../../server/deploy/build';
import { openStore } from '../../server/store/open';
import { generateSecretKey } from '../../server/store/postgres/secrets';
import { PostgresCluster, needsPostgres } from '../support/postgres';
import { checkStoreConsistent, killDuringChurn } from './crash-churn';
import { fixtureFiles } from './deploy-fixtures';

const rounds = 4;
const tenants = ['alpha', 'beta'];
const key = generateSecretKey('crash');

describe('PostgreSQL store under kill -9', needsPostgres(), () => {
  let pg: PostgresCluster;
  let cacheDir: string;
  before(async () => {
    pg = await PostgresCluster.start();
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-pg-crash-'));
  });
  after(async () => {
    await pg?.teardown();
    fs.rmSync(cacheDir, { recursive: true, force: true });
  });

  test(`kill -9 during uploads, ${rounds} times at random moments, leaves a consistent database`, async () => {
    const url = await pg.createDatabase();
    const db = new URL(url).pathname.slice(1);
    const files = fixtureFiles('multi');
    await build('alpha', files);
    const check = async () => {
      // a fresh node cache each time: everything read comes from the database
      const store = await openStore(url, { dataDir: fs.mkdtempSync(path.join(cacheDir, 'check-')), secretKey: key });
      try {
        const deployments = await checkStoreConsistent(store);
        const blobs = await pg.sql<{ bad: string }>(
          "SELECT count(*) AS bad FROM islet.blobs WHERE encode(sha256(data), 'hex') <> hash OR length(data) <> size",
          db,
        );
        assert.equal(Number(blobs[0]!.bad), 0, 'every blob hashes to its key');
        // each deployment has a file row for every module and source map its manifest names
        const missing = await pg.sql<{ n: string }>(
          `SELECT count(*) AS n FROM islet.deployments d, json_array_elements(d.manifest->'modules') m
           WHERE NOT EXISTS (SELECT 1 FROM islet.deployment_files f
                             WHERE f.tenant = d.tenant AND f.deployment = d.id AND f.path = m->>'path')
              OR (m->>'sourceMap' IS NOT NULL AND NOT EXISTS (SELECT 1 FROM islet.deployment_files f
                  WHERE f.tenant = d.tenant AND f.deployment = d.id AND f.path = m->>'sourceMap'))`,
          db,
        );
        assert.equal(Number(missing[0]!.n), 0, 'no deployment is missing a file');
        return deployments;
      } finally {
        await store.close();
      }
    };
    const completed = await killDuringChurn({
      store: url,
      env: { ISLET_SECRET_KEY: key, ISLET_DATA_DIR: cacheDir },
      rounds,
      tenants,
      files,
      check,
    });
    const deployments = await check();
    // a round of work (upload, activate, env) may be cut by every kill on a slow machine; what
    // must hold is that uploads reached the database and that it is consistent (checked above)
    assert.ok(
      deployments > 0,
      `uploads went through between kills (${completed} rounds of work, ${deployments} deployments)`,
    );
    // the killed sessions' transactions were rolled back and their locks released
    let held = 1;
    for (const until = Date.now() + 10_000; held > 0 && Date.now() < until; ) {
      held = Number(
        (await pg.sql<{ n: string }>("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory'"))[0]!.n,
      );
      if (held > 0) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(held, 0, 'no advisory lock outlives its killed session');
  });
});
