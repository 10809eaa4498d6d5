// Nodes sharing a PostgreSQL store know each other through heartbeats (server/nodes/): the
// registry's rows and liveness against real PostgreSQL, then `islet serve` nodes listing each
// other on GET /v1/nodes (operator only), a node killed with -9 turning not live after its missed
// beats, one stopped with SIGTERM leaving at once, and the directory store listing itself.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PostgresNodeRegistry } from '../../server/nodes/postgres-registry';
import type { NodeBeat } from '../../server/nodes/types';
import { openStore } from '../../server/store/open';
import type { PostgresDeploymentStore } from '../../server/store/postgres/store';
import { PostgresCluster, needsPostgres } from '../support/postgres';
import { admin, adminOk, type IsletNode, secretKey, startNode, until } from './islet-nodes';

const beat = (id: string, revision: number, heartbeatMs = 100): NodeBeat => ({
  id,
  address: `${id}.internal:8080`,
  revision,
  workers: 2,
  version: '0.1.0',
  startedAt: '2026-12-07T10:00:00.000Z',
  heartbeatMs,
  ready: true,
});

describe('node heartbeats on PostgreSQL', { ...needsPostgres(), timeout: 240_000 }, () => {
  let pg: PostgresCluster;
  const dirs: string[] = [];
  const nodes: IsletNode[] = [];
  before(async () => {
    pg = await PostgresCluster.start();
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await pg?.teardown();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the registry keeps one row per node; silence past liveBeats intervals and leaving end liveness', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-nodes-reg-'));
    dirs.push(dataDir);
    const store = (await openStore(await pg.createDatabase(), { dataDir, secretKey })) as PostgresDeploymentStore;
    await store.putTenant({ name: 'a', createdAt: '2026-01-01T00:00:00.000Z', active: null });
    await store.putEnv('a', { vars: { X: '1' }, secrets: {} });
    const registry = new PostgresNodeRegistry(store, { liveBeats: 3 });
    await registry.beat(beat('n1', 2));
    await registry.beat(beat('n2', 1));
    await registry.beat(beat('n1', 2)); // a second beat updates, never duplicates
    let list = await registry.list();
    assert.equal(list.revision, 2);
    assert.deepEqual(
      list.nodes.map((n) => [n.id, n.revision, n.lag, n.live, n.workers, n.address]),
      [
        ['n1', 2, 0, true, 2, 'n1.internal:8080'],
        ['n2', 1, 1, true, 2, 'n2.internal:8080'],
      ],
    );
    // applied() moves a node forward at once and never back
    await registry.applied('n2', 2);
    await registry.applied('n2', 1);
    assert.equal((await registry.list()).nodes[1]!.revision, 2);

    // n2 stops beating: after 3 x 100 ms it is not live; n1 keeps beating
    const started = Date.now();
    while (Date.now() - started < 600) {
      await registry.beat(beat('n1', 2));
      await new Promise((r) => setTimeout(r, 50));
    }
    list = await registry.list();
    assert.deepEqual(
      list.nodes.map((n) => [n.id, n.live]),
      [
        ['n1', true],
        ['n2', false],
      ],
    );
    assert.ok(list.nodes[1]!.silentMs >= 300, `n2 silent ${list.nodes[1]!.silentMs} ms`);
    // a beat brings it back; leaving ends liveness at once, whatever the interval
    await registry.beat(beat('n2', 2, 60_000));
    assert.equal((await registry.list()).nodes[1]!.live, true);
    await registry.leave('n2');
    const left = (await registry.list()).nodes[1]!;
    assert.equal(left.live, false);
    assert.ok(left.leftAt);
    await store.close();
  });

  test('islet serve nodes list each other on GET /v1/nodes; kill -9 makes one not live, SIGTERM leaves', async () => {
    const url = await pg.createDatabase();
    const a = await startNode({ store: url, name: 'node-a' });
    nodes.push(a);
    const b = await startNode({ store: url, name: 'node-b', workers: 1 });
    nodes.push(b);
    const c = await startNode({ store: url, name: 'node-c' });
    nodes.push(c);
    await adminOk(a, 'PUT', '/v1/tenants/shop', {});

    const listed = await until('three live nodes', async () => {
      const answer = await adminOk(a, 'GET', '/v1/nodes');
      return answer.live === 3 && answer.nodes.every((n: { revision: number }) => n.revision === answer.revision)
        ? answer
        : undefined;
    });
    assert.deepEqual(
      listed.nodes.map((n: { id: string; self: boolean; live: boolean; ready: boolean; lag: number }) => [
        n.id,
        n.self,
        n.live,
        n.ready,
        n.lag,
      ]),
      [
        ['node-a', true, true, true, 0],
        ['node-b', false, true, true, 0],
        ['node-c', false, true, true, 0],
      ],
    );
    const nodeB = listed.nodes.find((n: { id: string }) => n.id === 'node-b');
    assert.equal(nodeB.workers, 1, 'the supervisor reports its ready workers');
    assert.match(nodeB.address, /:\d+$/);
    assert.match(nodeB.version, /^\d+\.\d+\.\d+/);
    assert.equal(listed.revision, 1);
    // node B's worker answers the same list, marking itself
    const fromB = await adminOk(b, 'GET', '/v1/nodes');
    assert.deepEqual(
      fromB.nodes.filter((n: { self: boolean }) => n.self).map((n: { id: string }) => n.id),
      ['node-b'],
    );

    // a deploy token of a tenant may not list nodes
    const token = await adminOk(a, 'POST', '/v1/tenants/shop/tokens', {});
    const forbidden = await admin(a, 'GET', '/v1/nodes', undefined, { token: token.token });
    assert.equal(forbidden.status, 403, forbidden.text);

    await c.kill();
    const afterKill = await until(
      'node-c not live',
      async () => {
        const answer = await adminOk(a, 'GET', '/v1/nodes');
        return answer.nodes.find((n: { id: string; live: boolean }) => n.id === 'node-c' && !n.live)
          ? answer
          : undefined;
      },
      10_000,
    );
    assert.equal(afterKill.live, 2);
    assert.equal(afterKill.nodes.find((n: { id: string }) => n.id === 'node-c').leftAt, null, 'killed, not left');

    await b.stop();
    const afterStop = await adminOk(a, 'GET', '/v1/nodes');
    const stopped = afterStop.nodes.find((n: { id: string }) => n.id === 'node-b');
    assert.equal(stopped.live, false, 'a node stopped with SIGTERM is not live as soon as it exited');
    assert.ok(stopped.leftAt);
  });
});

describe('node list on the directory store', () => {
  test('one node, this one', async () => {
    const node = await startNode({ store: '', name: 'solo' });
    try {
      const answer = await until('the first heartbeat', async () => {
        const list = await adminOk(node, 'GET', '/v1/nodes');
        return list.nodes.length === 1 ? list : undefined;
      });
      assert.equal(answer.nodes[0].id, 'solo');
      assert.equal(answer.nodes[0].self, true);
      assert.equal(answer.nodes[0].live, true);
    } finally {
      await node.stop();
    }
  });
});
