// Failure behaviour of nodes sharing PostgreSQL (issue 20): with PostgreSQL down, nodes keep
// serving deployed tenants from their node cache, writes answer 503 with the reason, /healthz
// says degraded, and a change made once it is back reaches every node. A node killed while 1,000
// changes were made, restarted while PostgreSQL is still down, serves what its cache holds but is
// not ready (/readyz 503) until it has read the change log through; then it serves the newest
// state. The change log is pruned safely: compacted, never past the slowest live node.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { PostgresNodeRegistry } from '../../server/nodes/postgres-registry';
import { pruneChanges } from '../../server/nodes/prune';
import { openStore } from '../../server/store/open';
import type { PostgresDeploymentStore } from '../../server/store/postgres/store';
import { PostgresCluster, needsPostgres } from '../support/postgres';
import { admin, adminOk, deploy, hit, type IsletNode, secretKey, startNode, until } from './islet-nodes';

const envWorker = `export default { fetch(request, env) { return new Response(env.MODE ?? 'none') } }`;

async function probe(node: IsletNode, route: string): Promise<{ status: number; body: any }> {
  const res = await request(`http://127.0.0.1:${node.adminPort}${route}`, {
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  return { status: res.statusCode, body: await res.body.json() };
}

describe('nodes when PostgreSQL fails', { ...needsPostgres(), timeout: 240_000 }, () => {
  let pg: PostgresCluster;
  const nodes: IsletNode[] = [];
  const dirs: string[] = [];
  before(async () => {
    pg = await PostgresCluster.start();
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    // (each test restarts the server it stopped; starting it again here would start a second
    // postmaster whose failure replaces the handle of the running one, which then outlives teardown)
    await pg?.teardown();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  test(
    'PostgreSQL down: tenants served from the node cache, writes 503 with the reason, degraded; ' +
      'then it reconciles',
    async () => {
      const url = await pg.createDatabase();
      const a = await startNode({ store: url, name: 'fail-a' });
      const b = await startNode({ store: url, name: 'fail-b', workers: 1 });
      nodes.push(a, b);
      await deploy(a, 'shop', envWorker);
      await adminOk(a, 'PUT', '/v1/tenants/shop/env', { vars: { MODE: 'before' } });
      for (const node of [a, b]) {
        await until(`${node.name} serves the env`, async () =>
          (await hit(node, 'shop')).text === 'before' ? true : undefined,
        );
      }

      await pg.stopServer();
      try {
        for (let i = 0; i < 40; i++) {
          for (const node of [a, b]) {
            const reply = await hit(node, 'shop');
            assert.equal(reply.status, 200, `${node.name} request ${i}: ${reply.status} ${reply.text}`);
            assert.equal(reply.text, 'before');
          }
        }
        const refused = await admin(a, 'PUT', '/v1/tenants/shop/env', { vars: { MODE: 'during' } });
        assert.equal(refused.status, 503, refused.text);
        const error = refused.json().error;
        assert.equal(error.code, 'STORE_UNAVAILABLE');
        assert.match(error.message, /cannot be reached/);
        const health = await probe(a, '/healthz');
        assert.equal(health.status, 200);
        assert.deepEqual(health.body.degraded, ['store']);
        // a node that was caught up stays ready: it serves what it has
        assert.equal((await probe(b, '/readyz')).status, 200);
      } finally {
        await pg.startServer();
      }
      await until('writes work again', async () => {
        const reply = await admin(a, 'PUT', '/v1/tenants/shop/env', { vars: { MODE: 'after' } });
        return reply.status === 200 ? true : undefined;
      });
      for (const node of [a, b]) {
        await until(`${node.name} serves the change made after the outage`, async () =>
          (await hit(node, 'shop')).text === 'after' ? true : undefined,
        );
      }
      assert.deepEqual((await probe(a, '/healthz')).body, { ok: true });
    },
  );

  test(
    "pg_terminate_backend of the nodes' LISTEN sessions under load: no failed request, changes " +
      'made meanwhile arrive',
    async () => {
      const url = await pg.createDatabase();
      const a = await startNode({ store: url, name: 'cut-a' });
      const b = await startNode({ store: url, name: 'cut-b', workers: 1 });
      nodes.push(a, b);
      await deploy(a, 'load', envWorker);
      await adminOk(a, 'PUT', '/v1/tenants/load/env', { vars: { MODE: 'm0' } });
      let running = true;
      let served = 0;
      const failures: string[] = [];
      const load = Promise.all(
        [a, b, a, b].map(async (node) => {
          while (running) {
            const reply = await hit(node, 'load').catch((e: Error) => ({ status: 0, text: e.message }));
            if (reply.status !== 200) failures.push(`${node.name}: ${reply.status} ${reply.text}`);
            else served++;
          }
        }),
      );
      try {
        for (let round = 1; round <= 3; round++) {
          const cut = await pg.terminate('islet-feed');
          assert.ok(cut >= 2, `round ${round}: ${cut} LISTEN sessions ended (one per node)`);
          // a change made while the sessions are down: the answer waits for both nodes to apply it
          const answer = await adminOk(round % 2 ? a : b, 'PUT', '/v1/tenants/load/env', {
            vars: { MODE: `m${round}` },
          });
          assert.equal(answer.lagging, undefined, JSON.stringify(answer));
          for (const node of [a, b])
            assert.equal((await hit(node, 'load')).text, `m${round}`, `${node.name} round ${round}`);
        }
      } finally {
        running = false;
        await load;
      }
      assert.deepEqual(failures, []);
      assert.ok(served > 20, `${served} requests served during the cuts`);
    },
  );

  test(
    'a node that missed 1,000 changes and restarts with PostgreSQL down is not ready until it ' + 'caught up',
    async () => {
      const url = await pg.createDatabase();
      const a = await startNode({ store: url, name: 'catch-a' });
      nodes.push(a);
      let b = await startNode({ store: url, name: 'catch-b' });
      await deploy(a, 'news', envWorker);
      await adminOk(a, 'PUT', '/v1/tenants/news/env', { vars: { MODE: 'v0' } });
      await until('b serves v0', async () => ((await hit(b, 'news')).text === 'v0' ? true : undefined));
      await b.kill();

      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-catchup-writer-'));
      dirs.push(dataDir);
      const writer = await openStore(url, { dataDir, secretKey });
      for (let i = 1; i <= 1000; i++) await writer.putEnv('news', { vars: { MODE: `v${i}` }, secrets: {} });
      const newest = await writer.currentRevision();
      await writer.close();

      await pg.stopServer();
      let started = false;
      try {
        b = await startNode({ store: url, name: 'catch-b', dataDir: b.dataDir });
        started = true;
        const ready = await probe(b, '/readyz');
        assert.equal(ready.status, 503);
        assert.equal(ready.body.ready, false);
        assert.deepEqual(await probe(b, '/healthz').then((h) => h.body), {
          ok: true,
          ready: false,
          degraded: ['store'],
        });
        // what its node cache holds is served meanwhile
        const cached = await hit(b, 'news');
        assert.equal(cached.status, 200);
        assert.equal(cached.text, 'v0');
      } finally {
        await pg.startServer();
        if (!started) await b.stop();
      }
      nodes.push(b);
      await until('b ready', async () => ((await probe(b, '/readyz')).status === 200 ? true : undefined), 30_000);
      await until(
        'b serves the newest state',
        async () => ((await hit(b, 'news')).text === 'v1000' ? true : undefined),
        2000,
      );
      const listed = await until('b reported at the newest revision', async () => {
        const list = await adminOk(a, 'GET', '/v1/nodes');
        const node = list.nodes.find((n: { id: string }) => n.id === 'catch-b');
        return node?.ready && node.revision >= newest ? node : undefined;
      });
      assert.equal(listed.live, true);
    },
  );

  test(
    'pruning compacts the change log: never past the slowest live node, the newest change of ' +
      'each tenant and kind kept',
    async () => {
      const url = await pg.createDatabase();
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-prune-'));
      dirs.push(dataDir);
      const store = (await openStore(url, { dataDir, secretKey })) as PostgresDeploymentStore;
      const at = '2026-01-01T00:00:00.000Z';
      await store.putTenant({ name: 'a', createdAt: at, active: null });
      await store.putTenant({ name: 'b', createdAt: at, active: null });
      for (let i = 0; i < 10; i++) await store.putEnv('a', { vars: { N: String(i) }, secrets: {} });
      const slowPoint = await store.currentRevision(); // 12
      for (let i = 0; i < 10; i++) await store.putEnv('b', { vars: { N: String(i) }, secrets: {} });
      await store.deleteTenant('b');
      const newest = await store.currentRevision();
      const registry = new PostgresNodeRegistry(store, { liveBeats: 3 });
      const beat = (id: string, revision: number, heartbeatMs = 60_000) =>
        registry.beat({
          id,
          address: 'x:1',
          revision,
          workers: 1,
          version: '0',
          startedAt: at,
          heartbeatMs,
          ready: true,
        });
      await beat('fast', newest);
      await beat('slow', slowPoint);
      await beat('gone', 1, 100); // silent past 3 x 100 ms: not live, holds nothing back
      await new Promise((r) => setTimeout(r, 400));

      // inside the retention window nothing goes
      assert.equal(await pruneChanges(store, { retentionS: 3600, liveBeats: 3 }), 0);
      const removed = await pruneChanges(store, { retentionS: 0, liveBeats: 3 });
      const left = await store.changesSince(0, 10_000);
      // at or below the slow node: a's 10 env changes (9 go, its newest stays) and b's creation
      // (its deletion, further on, is a newer 'tenant' change: it goes); above the slow node all stay
      assert.equal(removed, 10);
      assert.deepEqual(
        left.filter((c) => c.tenant === 'a').map((c) => c.kind),
        ['tenant', 'env'],
      );
      assert.equal(left.filter((c) => c.tenant === 'b' && c.kind === 'env').length, 10);
      assert.equal(await store.currentRevision(), newest);

      // the slow node caught up: b's old env changes go, its deletion (newest 'tenant' change) stays
      await beat('slow', newest);
      await pruneChanges(store, { retentionS: 0, liveBeats: 3 });
      const compacted = await store.changesSince(0, 10_000);
      assert.deepEqual(
        compacted.map((c) => `${c.tenant}:${c.kind}`),
        ['a:tenant', 'a:env', 'b:env', 'b:tenant'],
      );
      assert.equal(compacted.at(-1)!.revision, newest, 'the newest change is never removed');
      // a node away longer than the window reads the compacted log from anywhere and still learns
      // of every tenant's latest change
      const fromOld = await store.changesSince(3, 10_000);
      assert.deepEqual(new Set(fromOld.map((c) => c.tenant)), new Set(['a', 'b']));
      await store.close();
    },
  );
});
