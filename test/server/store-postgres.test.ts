// The PostgreSQL store on a private cluster: the contract suite, plus what a shared database adds:
// the LISTEN connection surviving pg_terminate_backend, secrets encrypted at rest with key
// rotation, migrations racing from several nodes, TLS settings.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { openStore } from '../../server/store/open';
import { latestVersion, migrations } from '../../server/store/postgres/migrations';
import { PostgresDeploymentStore } from '../../server/store/postgres/store';
import { generateSecretKey } from '../../server/store/postgres/secrets';
import type { DeploymentStore, LoggedChange } from '../../server/store/types';
import { makeCertificate, PostgresCluster, needsPostgres } from '../support/postgres';
import { storeContract, tenantWith } from './store-contract';

const key = generateSecretKey('k1');
const dirs: string[] = [];

/** resolves once `condition` holds (checked every 20 ms), fails after 15 s naming `what` */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (const end = Date.now() + 15_000; !condition(); ) {
    assert.ok(Date.now() < end, `${what}: not within 15 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-pg-node-'));
  dirs.push(dir);
  return dir;
}

describe('PostgresDeploymentStore', needsPostgres(), () => {
  let pg: PostgresCluster;
  before(async () => {
    pg = await PostgresCluster.start({ ssl: true });
  });
  after(async () => {
    await pg?.teardown();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  // every store a test opens is closed after it, passed or failed (an open pool would leak
  // sessions into the next test's view of pg_stat_activity)
  const opened: DeploymentStore[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });
  const track = <T extends DeploymentStore>(store: T): T => {
    opened.push(store);
    return store;
  };

  /** a store on `url` with its own node cache, as one node would open it */
  const open = async (url: string, options: { secretKey?: string; pollMs?: number } = {}) =>
    track(await openStore(url, { dataDir: tempDir(), secretKey: options.secretKey ?? key, pollMs: options.pollMs }));

  storeContract('postgres', async () => {
    const url = await pg.createDatabase();
    const opened: DeploymentStore[] = [await open(url)];
    return {
      store: opened[0]!,
      another: async () => {
        const other = await open(url);
        opened.push(other);
        return other;
      },
      close: async () => {
        await Promise.all(opened.map((s) => s.close()));
      },
    };
  });

  test('a feed survives pg_terminate_backend of its LISTEN session and gets the changes made meanwhile', async () => {
    const url = await pg.createDatabase();
    const writer = await open(url);
    const reader = await open(url);
    await writer.putTenant({ name: 'cut', createdAt: new Date().toISOString(), active: null });
    // a slow poll far away: only the reconnect (then a NOTIFY) can bring changes in quickly.
    // `until` only looks (waitFor would read the log itself and prove nothing here).
    const feed = reader.openFeed({ from: 0, pollMs: 60_000 });
    const seen: LoggedChange[] = [];
    feed.onChange((c) => void seen.push(c));
    await feed.start();
    assert.equal(feed.connected, true);
    for (let round = 0; round < 3; round++) {
      assert.equal(await pg.terminate('islet-feed'), 1, `round ${round}: one LISTEN session to end`);
      // a write lands while the session is gone (its NOTIFY reaches nobody)
      const last = await writer.putEnv('cut', { vars: { ROUND: String(round) }, secrets: {} });
      await until(() => seen.some((c) => c.revision === last), `round ${round}: the change made meanwhile`);
      await until(() => feed.connected, `round ${round}: connected again`);
    }
    assert.ok(feed.stats().reconnects >= 3, `reconnected (${JSON.stringify(feed.stats())})`);
    assert.deepEqual(
      seen.map((c) => c.revision),
      [1, 2, 3, 4],
    );
    // and a NOTIFY on the new session wakes it again, long before the poll
    const next = await writer.putEnv('cut', { vars: { ROUND: 'after' }, secrets: {} });
    await until(() => seen.some((c) => c.revision === next), 'hinted by NOTIFY after the reconnects');
    await feed.close();
  });

  test('secrets are encrypted at rest, bound to their tenant, and readable across a key rotation', async () => {
    const url = await pg.createDatabase();
    const store = await open(url);
    await store.putTenant({ name: 'vault', createdAt: new Date().toISOString(), active: null });
    await store.putTenant({ name: 'other', createdAt: new Date().toISOString(), active: null });
    await store.putEnv('vault', { vars: { PLAIN: 'visible' }, secrets: { API_KEY: 'sk_live_do_not_leak' } });
    const db = new URL(url).pathname.slice(1);
    const [row] = await pg.sql<{ secrets: Buffer; key_id: string; vars: unknown }>(
      "SELECT secrets, key_id, vars FROM islet.env WHERE tenant = 'vault'",
      db,
    );
    assert.equal(row!.key_id, 'k1');
    assert.ok(!row!.secrets.toString('latin1').includes('sk_live_do_not_leak'), 'no plaintext secret in the row');
    assert.deepEqual(row!.vars, { PLAIN: 'visible' });
    // the same ciphertext moved to another tenant does not decrypt there
    await pg.sql(
      `INSERT INTO islet.env (tenant, vars, secrets, key_id)
       SELECT 'other', vars, secrets, key_id FROM islet.env WHERE tenant = 'vault'`,
      db,
    );
    await assert.rejects(store.getEnv('other'), /do not decrypt/);
    // rotation: a new key first, the old one after it: old rows read, new writes use the new key
    const rotated = `${generateSecretKey('k2')},${key}`;
    const next = await open(url, { secretKey: rotated });
    assert.deepEqual(await next.getEnv('vault'), {
      vars: { PLAIN: 'visible' },
      secrets: { API_KEY: 'sk_live_do_not_leak' },
    });
    await next.putEnv('vault', await next.getEnv('vault'));
    const [rekeyed] = await pg.sql<{ key_id: string }>("SELECT key_id FROM islet.env WHERE tenant = 'vault'", db);
    assert.equal(rekeyed!.key_id, 'k2');
    const onlyNew = await open(url, { secretKey: rotated.split(',')[0] });
    assert.equal((await onlyNew.getEnv('vault')).secrets.API_KEY, 'sk_live_do_not_leak');
    await assert.rejects(store.getEnv('vault'), /encrypted with key 'k2', which ISLET_SECRET_KEY does not list/);
    await Promise.all([store.close(), next.close(), onlyNew.close()]);
  });

  test('five nodes starting at once on an empty database migrate it once', async () => {
    const url = await pg.createDatabase();
    const stores = await Promise.all(
      Array.from({ length: 5 }, () => track(new PostgresDeploymentStore({ url, cacheDir: tempDir(), secretKey: key }))),
    );
    const results = await Promise.all(stores.map((s) => s.migrate()));
    assert.deepEqual(
      results.map((r) => r.applied.length).sort(),
      [0, 0, 0, 0, latestVersion],
      'one node applied the migrations, the others found them done',
    );
    assert.ok(results.every((r) => r.version === latestVersion && !r.newer));
    const rows = await pg.sql<{ version: number }>(
      'SELECT version FROM islet.schema_migrations',
      new URL(url).pathname.slice(1),
    );
    assert.deepEqual(
      rows.map((r) => r.version),
      migrations.map((m) => m.version),
    );
    await Promise.all(stores.map((s) => s.close()));
  });

  test('TLS: verify-full with the server CA works; another or a missing CA is refused; require encrypts', async () => {
    const url = await pg.createDatabase();
    const db = new URL(url).pathname.slice(1);
    const verified = track(
      await openStore(url, {
        dataDir: tempDir(),
        secretKey: key,
        sslMode: 'verify-full',
        sslCaFile: pg.certificate,
      }),
    );
    await verified.putTenant({ name: 'tls', createdAt: new Date().toISOString(), active: null });
    const ssl = `SELECT bool_and(s.ssl) AS ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
       WHERE a.application_name = 'islet' AND a.datname = current_database()`;
    assert.equal((await pg.sql<{ ssl: boolean }>(ssl, db))[0]!.ssl, true, 'the pool connection uses TLS');
    await verified.close();
    // a CA that did not sign the server's certificate: refused, loudly (not mistaken for an outage)
    const other = makeCertificate(tempDir(), 'other-ca');
    await assert.rejects(
      openStore(url, { dataDir: tempDir(), secretKey: key, sslMode: 'verify-full', sslCaFile: other.certificate }),
      /self[- ]signed|unable to verify|certificate/i,
    );
    await assert.rejects(
      openStore(url, {
        dataDir: tempDir(),
        secretKey: key,
        sslMode: 'verify-ca',
        sslCaFile: path.join(tempDir(), 'missing.pem'),
      }),
      /ENOENT/,
    );
    // the URL's own sslmode (as cloud providers hand them out) applies when the setting is auto
    const required = track(await openStore(`${url}?sslmode=require`, { dataDir: tempDir(), secretKey: key }));
    assert.deepEqual(
      (await required.listTenants()).map((t) => t.name),
      ['tls'],
    );
    assert.equal((await pg.sql<{ ssl: boolean }>(ssl, db))[0]!.ssl, true);
    await required.close();
    await assert.rejects(
      openStore(`${url}?sslrootcert=/x.pem`, { dataDir: tempDir(), secretKey: key }),
      /store.sslCaFile/,
    );
  });

  test('an activation answers while another node holds the route lock, in claim order', async () => {
    const url = await pg.createDatabase();
    const [a, b] = [await open(url), await open(url)];
    await tenantWith(a, 'first', 'd', ['queue.example.com/a*']);
    await tenantWith(a, 'second', 'd', ['queue.example.com/b*']);
    await Promise.all([a.activate('first', 'd'), b.activate('second', 'd')]);
    const rows = await pg.sql<{ tenant: string }>(
      'SELECT tenant FROM islet.routes ORDER BY tenant',
      new URL(url).pathname.slice(1),
    );
    assert.deepEqual(
      rows.map((r) => r.tenant),
      ['first', 'second'],
      'disjoint routes both claimed',
    );
    await Promise.all([a.close(), b.close()]);
  });
});
