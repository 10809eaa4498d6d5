// Races between islet nodes sharing one PostgreSQL database (issue 20): two nodes claiming the
// same route for two tenants at the same moment (the claim lock and the unique key let exactly
// one win; the other answers ROUTE_TAKEN; ten rounds, since a broken claim loses only some
// races), and a node killed with SIGKILL while deploys go through it and through another node
// (every deployment the API answered 201 for is readable with its hash from the surviving node,
// and nothing in the store is half-written: every stored module matches its recorded sha256).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { openStore } from '../../server/store/open';
import { PostgresCluster, needsPostgres } from '../support/postgres';
import { admin, type IsletNode, type Reply, secretKey, startNode } from './islet-nodes';

const worker = (body: string) => `export default { fetch() { return new Response(${JSON.stringify(body)}) } }`;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

function deployVia(node: IsletNode, tenant: string, source: string, query = ''): Promise<Reply> {
  return admin(node, 'POST', `/v1/tenants/${tenant}/deployments${query}`, source, { type: 'application/javascript' });
}

async function hitHost(node: IsletNode, host: string): Promise<{ status: number; text: string }> {
  const res = await request(`http://127.0.0.1:${node.port}/`, {
    headers: { host },
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  return { status: res.statusCode, text: await res.body.text() };
}

describe('nodes racing on one PostgreSQL database', { ...needsPostgres(), timeout: 180_000 }, () => {
  let pg: PostgresCluster;
  const nodes: IsletNode[] = [];
  const dirs: string[] = [];
  before(async () => {
    pg = await PostgresCluster.start();
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await pg?.teardown();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('two nodes claim one route for two tenants at once: exactly one wins, the other gets ROUTE_TAKEN', async () => {
    const url = await pg.createDatabase();
    const [a, b] = await Promise.all([
      startNode({ store: url, name: 'race-a' }),
      startNode({ store: url, name: 'race-b' }),
    ]);
    nodes.push(a!, b!);
    for (let round = 0; round < 10; round++) {
      const host = `race${round}.example.com`;
      const claims = [
        { node: a!, tenant: `alpha${round}` },
        { node: b!, tenant: `beta${round}` },
      ];
      const replies = await Promise.all(
        claims.map((c) => deployVia(c.node, c.tenant, worker(c.tenant), `?routes=${host}/*`)),
      );
      const statuses = replies.map((r) => r.status).sort();
      assert.deepEqual(statuses, [201, 409], `round ${round}: ${replies.map((r) => `${r.status} ${r.text}`)}`);
      const winner = claims[replies.findIndex((r) => r.status === 201)]!;
      const loser = replies.find((r) => r.status === 409)!;
      assert.equal(loser.json().error.code, 'ROUTE_TAKEN', loser.text);
      // (the claim check names the owner; the unique key beneath it, if ever reached, cannot)
      const owner = new RegExp(`already served by (tenant '${winner.tenant}'|another tenant)`);
      assert.match(loser.json().error.message, owner);
      // the API answered after every live node applied the claim: both serve the winner at once
      for (const node of [a!, b!]) {
        const served = await hitHost(node, host);
        assert.deepEqual(served, { status: 200, text: winner.tenant }, `${node.name} serves ${host}`);
      }
    }
  });

  test('kill -9 of a node during 20 deploys through it and another node: the store stays consistent', async () => {
    const url = await pg.createDatabase();
    const victim = await startNode({ store: url, name: 'crash-victim' });
    const survivor = await startNode({ store: url, name: 'crash-survivor' });
    nodes.push(victim, survivor);
    const tenant = 'crashy';
    const answered: { id: string; hash: string; via: string; body: string }[] = [];
    const failedVia: string[] = [];
    const stream = async (node: IsletNode, label: string, killAt: number | null) => {
      for (let i = 0; i < 10; i++) {
        const body = `${label}-${i}`;
        const pending = deployVia(node, tenant, worker(body));
        // SIGKILL while this deploy is in flight (and all later ones through this node fail)
        if (i === killAt) setTimeout(() => void node.kill(), 15);
        try {
          const reply = await pending;
          if (reply.status === 201) answered.push({ ...reply.json(), via: node.name, body });
          else assert.fail(`${node.name}: deploy ${body}: ${reply.status} ${reply.text}`);
        } catch (error) {
          assert.ok(i >= (killAt ?? Number.POSITIVE_INFINITY), `${node.name} failed before the kill: ${error}`);
          failedVia.push(body);
        }
      }
    };
    await Promise.all([stream(victim, 'victim', 4), stream(survivor, 'survivor', null)]);
    await victim.exit;
    assert.equal(victim.child.signalCode, 'SIGKILL');
    assert.equal(answered.filter((d) => d.via === survivor.name).length, 10, 'every deploy via the survivor answered');
    assert.ok(answered.filter((d) => d.via === victim.name).length >= 4, 'the victim answered those before the kill');
    assert.ok(failedVia.length >= 5, `deploys through the killed node fail: ${failedVia}`);

    // every answered deployment is readable from the survivor, with the hash the API answered
    const listed = await admin(survivor, 'GET', `/v1/tenants/${tenant}/deployments`);
    assert.equal(listed.status, 200, listed.text);
    const ids = new Set((listed.json().deployments as { id: string }[]).map((d) => d.id));
    for (const deployment of answered) {
      assert.ok(ids.has(deployment.id), `${deployment.id} (${deployment.body}) is listed`);
      const read = await admin(survivor, 'GET', `/v1/tenants/${tenant}/deployments/${deployment.id}`);
      assert.equal(read.status, 200, read.text);
      assert.equal(read.json().hash, deployment.hash, `${deployment.body}: hash`);
    }

    // nothing half-written: every stored deployment (answered or not) has every module, intact
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-races-check-'));
    dirs.push(dataDir);
    const store = await openStore(url, { dataDir, secretKey });
    try {
      const stored = await store.listDeployments(tenant);
      assert.ok(stored.length >= answered.length, `${stored.length} stored, ${answered.length} answered`);
      for (const manifest of stored) {
        assert.ok(manifest.modules.length > 0, `${manifest.id} has modules`);
        for (const mod of manifest.modules) {
          const data = await store.readFile(tenant, manifest.id, mod.path);
          assert.equal(sha256(data), mod.sha256, `${manifest.id} ${mod.path}`);
        }
      }
      const active = (await store.getTenant(tenant))?.active;
      assert.ok(active && stored.some((m) => m.id === active), `the active deployment ${active} is stored`);
    } finally {
      await store.close();
    }

    // the survivor keeps working: a new deploy answers and is served at once
    const last = await deployVia(survivor, tenant, worker('after-the-crash'));
    assert.equal(last.status, 201, last.text);
    const served = await hitHost(survivor, `${tenant}.localhost`);
    assert.deepEqual(served, { status: 200, text: 'after-the-crash' });
  });
});
