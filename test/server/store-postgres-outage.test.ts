// PostgreSQL going away under a node: what serving needs is read from the node's own disk, writes
// fail with STORE_UNAVAILABLE (503 at the admin API), health says degraded, a node restarting in
// the outage still opens, and when the server is back writes work and feeds catch up.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createAdminApi } from '../../server/admin/api';
import { Logger } from '../../server/observe/server-log';
import { openStore } from '../../server/store/open';
import { generateSecretKey } from '../../server/store/postgres/secrets';
import type { LoggedChange } from '../../server/store/types';
import { PostgresCluster, needsPostgres } from '../support/postgres';
import { deployment } from './store-contract';

const key = generateSecretKey('k1');

describe('PostgreSQL store during an outage', needsPostgres(), () => {
  let pg: PostgresCluster;
  let cacheDir: string;
  before(async () => {
    pg = await PostgresCluster.start();
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-pg-outage-'));
  });
  after(async () => {
    await pg?.teardown();
    fs.rmSync(cacheDir, { recursive: true, force: true });
  });

  test('reads come from the node cache, writes answer unavailable, all resumes when PostgreSQL is back', async () => {
    const url = await pg.createDatabase();
    const node = await openStore(url, { dataDir: cacheDir, secretKey: key, pollMs: 500 });
    await node.putTenant({ name: 'live', createdAt: '2026-01-01T00:00:00.000Z', active: null });
    const d = deployment('live', 'd1', 'export default { fetch() { return new Response("still here") } }', [
      'live.example.com/*',
    ]);
    await node.putDeployment(d.manifest, d.files);
    await node.activate('live', 'd1');
    await node.putEnv('live', { vars: { MODE: 'prod' }, secrets: { TOKEN: 's3cret' } });
    await node.writeCodeCache('live', 'd1', 'index.js', 'v8-test', Buffer.from([7, 7]));
    // serving reads them once (as a tenant's cold start does)
    const tenant = await node.getTenant('live');
    await node.listTenants();
    await node.getEnv('live');
    const feed = node.openFeed({ pollMs: 500 });
    const seen: LoggedChange[] = [];
    feed.onChange((c) => void seen.push(c));
    await feed.start();
    const admin = createAdminApi({
      store: node,
      logger: new Logger('error', () => {}),
      operatorToken: 'op',
      baseDomain: 'localhost',
      tenantPort: 8080,
    });

    await pg.stopServer();

    assert.deepEqual(await node.getTenant('live'), tenant);
    assert.deepEqual(
      (await node.listTenants()).map((t) => t.name),
      ['live'],
    );
    assert.deepEqual(await node.getDeployment('live', 'd1'), d.manifest);
    assert.equal(
      (await node.readFile('live', 'd1', 'index.js')).toString(),
      'export default { fetch() { return new Response("still here") } }',
    );
    assert.deepEqual(await node.getEnv('live'), { vars: { MODE: 'prod' }, secrets: { TOKEN: 's3cret' } });
    assert.deepEqual(await node.readCodeCache('live', 'd1', 'index.js', 'v8-test'), Buffer.from([7, 7]));
    const started = Date.now();
    await assert.rejects(node.putEnv('live', { vars: {}, secrets: {} }), {
      code: 'ISLET_STORE_UNAVAILABLE',
      message: /cannot be reached/,
    });
    await assert.rejects(node.activate('live', 'd1'), { code: 'ISLET_STORE_UNAVAILABLE' });
    assert.ok(Date.now() - started < 12_000, 'writes fail within the connect timeout, they do not hang');
    await assert.rejects(node.getTenant('never-read'), { code: 'ISLET_STORE_UNAVAILABLE' });
    const health = await node.health();
    assert.equal(health.state, 'degraded');
    assert.match(health.reason ?? '', /cannot be reached/);
    const refused = await admin.request('/v1/tenants/live/env', {
      method: 'PUT',
      headers: { authorization: 'Bearer op', 'content-type': 'application/json' },
      body: '{"vars":{"A":"1"}}',
    });
    assert.equal(refused.status, 503);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'STORE_UNAVAILABLE');

    // a node restarting during the outage opens (with a warning) and serves from its disk
    const warnings: string[] = [];
    const restarted = await openStore(url, {
      dataDir: cacheDir,
      secretKey: key,
      onWarning: (message) => warnings.push(message),
    });
    assert.equal(warnings.length, 1);
    assert.equal((await restarted.getDeployment('live', 'd1'))?.id, 'd1');
    assert.equal((await restarted.getTenant('live'))?.active, 'd1');

    await pg.startServer();
    const revision = await node.putEnv('live', { vars: { MODE: 'back' }, secrets: { TOKEN: 's3cret' } });
    assert.equal((await node.health()).state, 'ok');
    assert.ok(await feed.waitFor(revision, 15_000), 'the feed reconnected and caught up');
    assert.equal(seen.at(-1)?.kind, 'env');
    assert.ok(feed.stats().reconnects >= 1);
    assert.deepEqual((await restarted.getEnv('live')).vars, { MODE: 'back' });
    await feed.close();
    await Promise.all([node.close(), restarted.close()]);
  });
});
