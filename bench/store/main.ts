// bench/store: the store's write side, the directory store (the baseline, one machine) against
// PostgreSQL (many machines), measured in the same run on this machine.
//  - deploys per second: a deploy is putDeployment (an entry module, a 30 KB library module and
//    a source map) then activate, as the admin API does; by 1 writer, then by 3 writers at once
//    (3 store instances: the worker processes of one machine, or 3 nodes on one database);
//  - catch-up: how long a feed that missed 1,000 changes takes to read and deliver them.
// PostgreSQL runs a private cluster with fsync and synchronous_commit ON, so both stores make
// every write durable before answering. Skipped (with the reason) without PostgreSQL.
// Run: npm run build && npm run bench -- store   (or node dist/bench/store/main.js [--quick])
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../../server/store/open';
import { generateSecretKey } from '../../server/store/postgres/secrets';
import type { DeploymentManifest, DeploymentStore } from '../../server/store/types';
import { PostgresCluster, needsPostgres } from '../../test/support/postgres';
import { machineInfo } from '../lib/machine';
import { median, round } from '../lib/stats';

const quick = process.argv.includes('--quick');
const DEPLOYS = quick ? 60 : 200;
const ROUNDS = quick ? 3 : 5;
const root = path.resolve(__dirname, '../../..');
const hex = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const library = Buffer.from(`export const table = ${JSON.stringify('x'.repeat(30_000))};\n`);

function deployment(tenant: string, n: number): { manifest: DeploymentManifest; files: Map<string, Buffer> } {
  const entry = Buffer.from(
    `import { table } from '/lib.js';\nexport default { fetch() { return new Response(${n} + table.length) } }\n`,
  );
  const map = Buffer.from(`{"version":3,"sources":["index.ts"],"mappings":"AAAA${n}"}`);
  return {
    manifest: {
      id: `d${n}`,
      tenant,
      hash: hex(entry),
      createdAt: new Date().toISOString(),
      format: 'modules',
      entry: 'index.js',
      modules: [
        { path: 'index.js', size: entry.length, sha256: hex(entry), sourceMap: 'index.js.map' },
        { path: 'lib.js', size: library.length, sha256: hex(library) },
      ],
      routes: [],
      warnings: [],
      size: entry.length + library.length,
    },
    files: new Map([
      ['index.js', entry],
      ['index.js.map', map],
      ['lib.js', library],
    ]),
  };
}

/** deploys per second by `writers` stores at once, each deploying to its own tenant */
async function deploysPerSecond(stores: DeploymentStore[], label: string): Promise<number> {
  const perWriter = Math.ceil(DEPLOYS / stores.length);
  await Promise.all(
    stores.map((s, w) => s.putTenant({ name: `${label}-${w}`, createdAt: new Date().toISOString(), active: null })),
  );
  const started = process.hrtime.bigint();
  await Promise.all(
    stores.map(async (store, w) => {
      for (let i = 0; i < perWriter; i++) {
        const d = deployment(`${label}-${w}`, i);
        await store.putDeployment(d.manifest, d.files);
        await store.activate(d.manifest.tenant, d.manifest.id);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return (perWriter * stores.length) / seconds;
}

/** ms for a feed that missed 1,000 changes to deliver them */
async function catchUp(store: DeploymentStore, tenant: string): Promise<number> {
  await store.putTenant({ name: tenant, createdAt: new Date().toISOString(), active: null });
  const from = await store.currentRevision();
  await Promise.all(
    Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; i < 250; i++) await store.putEnv(tenant, { vars: { W: String(w), I: String(i) }, secrets: {} });
    }),
  );
  const feed = store.openFeed({ from });
  let delivered = 0;
  feed.onChange(() => void delivered++);
  const started = process.hrtime.bigint();
  await feed.start();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  await feed.close();
  if (delivered !== 1000) throw new Error(`the feed delivered ${delivered} changes, not 1000`);
  return ms;
}

interface Result {
  store: string;
  deploysPerSecond1: number;
  deploysPerSecond3: number;
  catchUpMs: number;
}

async function measure(name: string, open: () => Promise<DeploymentStore>): Promise<Result> {
  const one: number[] = [];
  const three: number[] = [];
  const catchUps: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const stores = [await open(), await open(), await open()];
    one.push(await deploysPerSecond(stores.slice(0, 1), `one${round}`));
    three.push(await deploysPerSecond(stores, `three${round}`));
    catchUps.push(await catchUp(stores[0]!, `feed${round}`));
    await Promise.all(stores.map((s) => s.close()));
  }
  return {
    store: name,
    deploysPerSecond1: round(median(one), 1),
    deploysPerSecond3: round(median(three), 1),
    catchUpMs: round(median(catchUps), 1),
  };
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-bench-store-'));
  const results: Result[] = [];
  try {
    const fsDir = path.join(tmp, 'fs');
    results.push(await measure('fs (baseline)', () => openStore(`file://${fsDir}`, { dataDir: fsDir })));
    const { skip } = needsPostgres();
    if (skip) console.log(`postgres: skipped: ${skip}`);
    else {
      const pg = await PostgresCluster.start({ durable: true });
      try {
        const url = await pg.createDatabase();
        const key = generateSecretKey('bench');
        let node = 0;
        results.push(
          await measure('postgres', () => openStore(url, { dataDir: path.join(tmp, `node${node++}`), secretKey: key })),
        );
      } finally {
        await pg.teardown();
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const base = results[0]!;
  console.log(
    `store writes: ${DEPLOYS} deploys (putDeployment of 3 files + activate) per measurement, ` +
      `median of ${ROUNDS} rounds`,
  );
  console.log('store           deploys/s 1 writer   deploys/s 3 writers   catch-up of 1,000 changes');
  const ratio = (v: number, b: number) => `(${round(v / b, 2)}x fs)`;
  for (const r of results) {
    const cell = (v: number, b: number, width: number) => `${String(v).padStart(8)} ${ratio(v, b).padEnd(width)}`;
    const one = cell(r.deploysPerSecond1, base.deploysPerSecond1, 12);
    const three = cell(r.deploysPerSecond3, base.deploysPerSecond3, 14);
    console.log(`${r.store.padEnd(16)}${one}${three}${String(r.catchUpMs).padStart(8)} ms`);
  }
  const out = { machine: machineInfo(root), deploys: DEPLOYS, rounds: ROUNDS, results };
  if (!quick) fs.writeFileSync(path.join(root, 'bench', 'results', 'store.json'), `${JSON.stringify(out, null, 2)}\n`);
  if (process.argv.includes('--json')) console.log(JSON.stringify(out));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
