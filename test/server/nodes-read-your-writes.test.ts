// Read-your-writes across machines (issue 20): three `islet serve` nodes on one PostgreSQL
// database. A deploy, env change, rollback or token revocation made through any node answers
// once every live node applied it, so the very next request on any other node sees it (no
// retry). A live node that cannot apply in time is named in the answer (`lagging` field and
// islet-lagging header) after the bound; a node that died stops being waited for once it missed
// its heartbeats; one stopped with SIGTERM at once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PostgresCluster, needsPostgres } from '../support/postgres';
import { admin, adminOk, deploy, hit, type IsletNode, startNode, until } from './islet-nodes';

const version = (label: string) => `export default { fetch(request, env) {
  return new Response('${label}:' + (env.MODE ?? 'none'));
} }`;

describe('read-your-writes across nodes', { ...needsPostgres(), timeout: 240_000 }, () => {
  let pg: PostgresCluster;
  let url: string;
  let a: IsletNode;
  let b: IsletNode;
  let c: IsletNode;
  const extra: IsletNode[] = [];
  before(async () => {
    pg = await PostgresCluster.start();
    url = await pg.createDatabase();
    // B runs workers under a supervisor (its fan-out acknowledges for the node); C beats slowly,
    // so it stays live for 15 s when paused (the lag case below)
    [a, b, c] = await Promise.all([
      startNode({ store: url, name: 'ryw-a', env: { ISLET_SYNC_TIMEOUT_MS: '1500' } }),
      startNode({ store: url, name: 'ryw-b', workers: 2 }),
      startNode({ store: url, name: 'ryw-c', env: { ISLET_HEARTBEAT_MS: '5000' } }),
    ]);
    await until('three live nodes', async () => ((await adminOk(a, 'GET', '/v1/nodes')).live === 3 ? true : undefined));
  });
  after(async () => {
    if (c?.child.signalCode === null && c.child.exitCode === null) c.child.kill('SIGCONT');
    await Promise.all([a, b, c, ...extra].filter(Boolean).map((n) => n.stop()));
    await pg?.teardown();
  });

  test(
    'deploy, env, rollback and token revocation on one node: the very next request on the others ' + 'sees it',
    async () => {
      const nodes = [a, b, c];
      for (let i = 0; i < 6; i++) {
        const via = nodes[i % 3]!;
        const answer = await deploy(via, 'shop', version(`v${i}`));
        assert.equal(answer.lagging, undefined, `deploy ${i} via ${via.name}: ${JSON.stringify(answer)}`);
        for (const other of nodes) {
          const reply = await hit(other, 'shop');
          assert.equal(reply.text, `v${i}:none`, `deploy ${i} via ${via.name}, next request on ${other.name}`);
        }
      }
      const env = await adminOk(b, 'PUT', '/v1/tenants/shop/env', { vars: { MODE: 'green' } });
      assert.equal(env.lagging, undefined);
      for (const other of nodes) assert.equal((await hit(other, 'shop')).text, 'v5:green', `env on ${other.name}`);

      const rolled = await adminOk(c, 'POST', '/v1/tenants/shop/rollback', {});
      assert.equal(rolled.lagging, undefined);
      for (const other of nodes) assert.equal((await hit(other, 'shop')).text, 'v4:green', `rollback on ${other.name}`);

      const token = await adminOk(a, 'POST', '/v1/tenants/shop/tokens', {});
      assert.equal((await admin(c, 'GET', '/v1/tenants/shop', undefined, { token: token.token })).status, 200);
      await adminOk(b, 'DELETE', `/v1/tenants/shop/tokens/${token.id}`);
      for (const other of nodes) {
        const refused = await admin(other, 'GET', '/v1/tenants/shop', undefined, { token: token.token });
        assert.equal(refused.status, 401, `revoked token on ${other.name}: ${refused.text}`);
      }
    },
  );

  test('KV is shared: a value a function writes on one node is read by the function on every other', async () => {
    await deploy(a, 'kvshop', 'export default { fetch() { return new Response("before bindings") } }');
    await adminOk(b, 'PUT', '/v1/tenants/kvshop/bindings', { kv_namespaces: [{ binding: 'NS', id: 'main' }] });
    await deploy(
      c,
      'kvshop',
      `export default { async fetch(request, env) {
        const n = new URL(request.url).searchParams.get('n');
        if (n !== null) { await env.NS.put('counter', n); return new Response('put ' + n); }
        return new Response(String(await env.NS.get('counter')));
      } }`,
    );
    const nodes = [a, b, c];
    for (let i = 0; i < 6; i++) {
      const writer = nodes[i % 3]!;
      assert.equal((await hit(writer, 'kvshop', `/?n=${i}`)).text, `put ${i}`);
      for (const reader of nodes) {
        assert.equal(
          (await hit(reader, 'kvshop')).text,
          String(i),
          `written on ${writer.name}, read on ${reader.name}`,
        );
      }
    }
  });

  test(
    'the answer waits for a node that is slow to apply (paused 400 ms): its next request sees ' + 'the write',
    async () => {
      for (let i = 0; i < 3; i++) {
        c.child.kill('SIGSTOP');
        const answered = deploy(a, 'slow', version(`s${i}`));
        let paused = true;
        const resumed = new Promise((resolve) => setTimeout(resolve, 400)).then(() => {
          c.child.kill('SIGCONT');
          paused = false;
        });
        try {
          const answer = await answered;
          assert.equal(paused, false, 'the answer came only after the paused node resumed');
          assert.equal(answer.lagging, undefined, JSON.stringify(answer));
        } finally {
          await resumed;
        }
        assert.equal((await hit(c, 'slow')).text, `s${i}:none`, `deploy ${i}: the paused node's next request`);
      }
    },
  );

  test('a live node that cannot apply in time is named in the answer; a dead one stops being waited for', async () => {
    c.child.kill('SIGSTOP');
    try {
      const started = Date.now();
      const reply = await admin(a, 'PUT', '/v1/tenants/shop/env', { vars: { MODE: 'paused' } });
      const waited = Date.now() - started;
      assert.equal(reply.status, 200, reply.text);
      assert.ok(waited >= 1400, `the answer waited for the lagging node (${waited} ms)`);
      const body = reply.json();
      assert.deepEqual(
        body.lagging.map((l: { node?: string; reason: string }) => [l.node, l.reason]),
        [['ryw-c', 'timeout']],
      );
      assert.match(String(reply.headers['islet-lagging']), /node ryw-c/);
      // the active deployment's state shows the node behind, as does the node list
      const active = (await adminOk(a, 'GET', '/v1/tenants/shop')).active;
      const state = await adminOk(a, 'GET', `/v1/tenants/shop/deployments/${active}`);
      assert.deepEqual(
        state.nodes.lagging.map((n: { id: string }) => n.id),
        ['ryw-c'],
      );
      const listed = await adminOk(a, 'GET', '/v1/nodes');
      const lagging = listed.nodes.find((n: { id: string }) => n.id === 'ryw-c');
      assert.ok(lagging.lag > 0, JSON.stringify(lagging));
      // B applied it all the same
      assert.equal((await hit(b, 'shop')).text, 'v4:paused');
    } finally {
      c.child.kill('SIGCONT');
    }
    await until('ryw-c catches up', async () => ((await hit(c, 'shop')).text === 'v4:paused' ? true : undefined));
    await until('the deployment shows every node caught up', async () => {
      const active = (await adminOk(a, 'GET', '/v1/tenants/shop')).active;
      const state = await adminOk(a, 'GET', `/v1/tenants/shop/deployments/${active}`);
      return state.nodes.lagging.length === 0 ? true : undefined;
    });

    // killed: once it missed its beats, writes answer at once and name nobody
    const d = await startNode({ store: url, name: 'ryw-d' });
    extra.push(d);
    await until('ryw-d live', async () => ((await adminOk(a, 'GET', '/v1/nodes')).live === 4 ? true : undefined));
    await d.kill();
    await until('ryw-d not live', async () => ((await adminOk(a, 'GET', '/v1/nodes')).live === 3 ? true : undefined));
    const started = Date.now();
    const quick = await adminOk(a, 'PUT', '/v1/tenants/shop/env', { vars: { MODE: 'after-kill' } });
    assert.equal(quick.lagging, undefined, JSON.stringify(quick));
    assert.ok(Date.now() - started < 1400, 'a dead node is not waited for');
  });
});
