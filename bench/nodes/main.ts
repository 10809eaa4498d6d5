// bench/nodes: how soon a deploy made through one node is served by every node, three
// `islet serve` nodes on one PostgreSQL database (a private cluster on this machine), 50 deploys
// made in turn through each node. For each deploy: the admin API's answer time, and the time
// from the answer until every node served the new version (each node is asked right after the
// answer, then every 5 ms until it serves it). Measured twice in the same run: with
// read-your-writes across machines (the answer waits for every live node, the default) and,
// as the baseline, with ISLET_SYNC_TIMEOUT_MS=0 (the answer goes at once and the others learn
// of the change through the change feed). Skipped (with the reason) without PostgreSQL.
// Run: npm run build && npm run bench -- nodes   (or node dist/bench/nodes/main.js [--quick])
import fs from 'node:fs';
import path from 'node:path';
import { PostgresCluster, needsPostgres } from '../../test/support/postgres';
import { deploy, hit, type IsletNode, startNode } from '../../test/server/islet-nodes';
import { machineInfo } from '../lib/machine';
import { median, percentileSorted, round } from '../lib/stats';

const quick = process.argv.includes('--quick');
const DEPLOYS = quick ? 15 : 50;
const root = path.resolve(__dirname, '../../..');

interface Phase {
  mode: string;
  deploys: number;
  answerMsMedian: number;
  answerMsP99: number;
  everywhereMsMedian: number;
  everywhereMsP99: number;
  /** deploys whose very next request on every node already served the new version */
  servedAtOnce: number;
}

const stats = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  return { median: round(median(sorted), 1), p99: round(percentileSorted(sorted, 99), 1) };
};

async function phase(url: string, mode: string, env: Record<string, string>): Promise<Phase> {
  const nodes: IsletNode[] = await Promise.all(
    ['a', 'b', 'c'].map((n) => startNode({ store: url, name: `bench-${mode}-${n}`, env })),
  );
  try {
    const tenant = `bench-${mode}`;
    await deploy(nodes[0]!, tenant, 'export default { fetch() { return new Response("warm") } }');
    const answers: number[] = [];
    const everywhere: number[] = [];
    let atOnce = 0;
    for (let i = 0; i < DEPLOYS; i++) {
      const via = nodes[i % nodes.length]!;
      const body = `v${i}`;
      const started = performance.now();
      await deploy(via, tenant, `export default { fetch() { return new Response(${JSON.stringify(body)}) } }`);
      const answered = performance.now();
      answers.push(answered - started);
      let firstTry = true;
      await Promise.all(
        nodes.map(async (node) => {
          for (;;) {
            if ((await hit(node, tenant)).text === body) return;
            firstTry = false;
            await new Promise((r) => setTimeout(r, 5));
          }
        }),
      );
      everywhere.push(performance.now() - answered);
      if (firstTry) atOnce++;
    }
    const a = stats(answers);
    const e = stats(everywhere);
    return {
      mode,
      deploys: DEPLOYS,
      answerMsMedian: a.median,
      answerMsP99: a.p99,
      everywhereMsMedian: e.median,
      everywhereMsP99: e.p99,
      servedAtOnce: atOnce,
    };
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

async function main(): Promise<void> {
  const skip = needsPostgres().skip;
  if (skip) {
    console.log(`nodes: skipped: ${skip}`);
    return;
  }
  const pg = await PostgresCluster.start({ durable: true });
  try {
    const results = [
      await phase(await pg.createDatabase(), 'wait', {}),
      await phase(await pg.createDatabase(), 'at-once', { ISLET_SYNC_TIMEOUT_MS: '0' }),
    ];
    console.log(`3 nodes, ${DEPLOYS} deploys through each node in turn; PostgreSQL 15 with fsync on`);
    console.log(
      'answer             deploy answer ms (median / p99)   answer -> served everywhere ms   next request served',
    );
    for (const r of results) {
      const label = r.mode === 'wait' ? 'waits for nodes' : 'at once (baseline)';
      const answer = `${r.answerMsMedian} / ${r.answerMsP99}`.padEnd(34);
      const everywhere = `${r.everywhereMsMedian} / ${r.everywhereMsP99}`.padEnd(33);
      console.log(`${label.padEnd(19)}${answer}${everywhere}${r.servedAtOnce}/${r.deploys}`);
    }
    const out = { machine: machineInfo(root), results };
    if (!quick)
      fs.writeFileSync(path.join(root, 'bench', 'results', 'nodes.json'), `${JSON.stringify(out, null, 2)}\n`);
    if (process.argv.includes('--json')) console.log(JSON.stringify(out));
  } finally {
    await pg.teardown();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
