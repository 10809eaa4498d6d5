// Two islet nodes (`islet serve --workers 2` each, real processes) on one PostgreSQL database.
// Within a node the supervisor is the store's one subscriber: one LISTEN session per node, not
// one per process, and a write made through the other node reaches every worker of this one
// through the same fan-out that read-your-writes uses, with no polling of the workers' own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ownerSlot } from '../../server/cluster/routing';
import { generateSecretKey } from '../../server/store/postgres/secrets';
import { PostgresCluster, needsPostgres } from '../support/postgres';
import { adminOk, type ClusterIslet, deploy, hit, startClusterIslet, until } from './cluster-islet';

/** two tenant names whose hostnames belong to different worker slots (so both workers are asked) */
function onBothSlots(): [string, string] {
  const first = 'north';
  const slot = ownerSlot(`${first}.localhost`, [0, 1]);
  for (let i = 0; ; i++) if (ownerSlot(`south${i}.localhost`, [0, 1]) !== slot) return [first, `south${i}`];
}

const marked = (mark: string) =>
  `export default { fetch(req, env) { return new Response(${JSON.stringify(mark)} + ' ' + (env.N ?? '-')); } };`;

test(
  'two nodes on PostgreSQL: one LISTEN per node; a write on one reaches every worker of the other',
  needsPostgres(),
  async (t) => {
    const pg = await PostgresCluster.start();
    const nodes: ClusterIslet[] = [];
    try {
      const url = await pg.createDatabase();
      const env = { ISLET_STORE_URL: url, ISLET_SECRET_KEY: generateSecretKey('k1') };
      nodes.push(await startClusterIslet({ workers: 2, env }));
      nodes.push(await startClusterIslet({ workers: 2, env }));
      const [a, b] = nodes as [ClusterIslet, ClusterIslet];
      const database = new URL(url).pathname.slice(1);
      const listeners = await pg.sql<{ n: string }>(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'islet-feed' AND datname = $1",
        'postgres',
        [database],
      );
      assert.equal(Number(listeners[0]!.n), 2, 'one LISTEN session per node (its supervisor), none per worker');

      const tenants = onBothSlots();
      for (const tenant of tenants) await deploy(a, tenant, marked(`${tenant} v1`));
      const seenOn = async (node: ClusterIslet, tenant: string, text: string) => {
        const started = Date.now();
        await until(
          `${text} on the other node`,
          async () => ((await hit(node, `${tenant}.localhost`)).text === text ? true : undefined),
          15_000,
        );
        return Date.now() - started;
      };
      for (const tenant of tenants) await seenOn(b, tenant, `${tenant} v1 -`);

      // a redeploy and an env change through node A: every worker of node B gets them
      const delays: number[] = [];
      for (const tenant of tenants) {
        await deploy(a, tenant, marked(`${tenant} v2`));
        delays.push(await seenOn(b, tenant, `${tenant} v2 -`));
        await adminOk(a, 'PUT', `/v1/tenants/${tenant}/env`, { vars: { N: '7' } });
        delays.push(await seenOn(b, tenant, `${tenant} v2 7`));
      }
      // and the other way round, read-your-writes on the node that wrote
      await adminOk(b, 'PUT', `/v1/tenants/${tenants[0]}/env`, { vars: { N: '8' } });
      assert.equal((await hit(b, `${tenants[0]}.localhost`)).text, `${tenants[0]} v2 8`);
      delays.push(await seenOn(a, tenants[0], `${tenants[0]} v2 8`));
      t.diagnostic(`written on one node, served by the other after (ms): ${delays.join(', ')}`);
    } finally {
      for (const node of nodes) await node.stop();
      await pg.teardown();
    }
  },
);
