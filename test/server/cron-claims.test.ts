// Cron slots run once across machines: three nodes (three connection pools to one PostgreSQL
// database) claim the same 30 one-second slots of two triggers at the same moments, as their
// schedulers do when a slot comes due; each (trigger, slot) is won by exactly one node. The
// SQLite claims of one machine keep the same rule across processes of the node.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type SlotClaims, SqliteSlotClaims } from '../../server/bindings/cron/claims';
import { PostgresSlotClaims } from '../../server/bindings/cron/postgres-claims';
import { Db } from '../../server/store/postgres/db';
import { migrate } from '../../server/store/postgres/migrations';
import { PostgresCluster, needsPostgres } from '../support/postgres';

/** every claimer claims every slot of every trigger at once; resolves with the winners per slot */
async function race(claimers: SlotClaims[], triggers: string[], slots: number[]): Promise<Map<string, number[]>> {
  const winners = new Map<string, number[]>();
  for (const slot of slots) {
    await Promise.all(
      triggers.flatMap((trigger) =>
        claimers.map(async (claims, node) => {
          if (await claims.claim(trigger, slot)) {
            const key = `${JSON.stringify(trigger)}@${slot}`;
            winners.set(key, [...(winners.get(key) ?? []), node]);
          }
        }),
      ),
    );
  }
  return winners;
}

// the scheduler's keys are `${tenant}\0${cron}`; a backslash must not make two keys one
const triggers = ['shop\u0000* * * * *', 'shop\\0* * * * *', 'blog\u0000*/5 * * * *'];
const slots = Array.from({ length: 30 }, (_, i) => Date.UTC(2026, 11, 7, 12, 0, i));

describe('cron slot claims on SQLite (one machine)', () => {
  test('each slot won once among processes sharing the file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'islet-claims-'));
    const claimers = [0, 1, 2].map(() => SqliteSlotClaims.inDataDir(dir));
    try {
      const winners = await race(claimers, triggers, slots);
      assert.equal(winners.size, triggers.length * slots.length);
      for (const [key, nodes] of winners) assert.equal(nodes.length, 1, key);
    } finally {
      for (const c of claimers) c.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('cron slot claims on PostgreSQL (many machines)', needsPostgres(), () => {
  let pg: PostgresCluster;
  before(async () => {
    pg = await PostgresCluster.start();
  });
  after(async () => {
    await pg?.teardown();
  });

  test('three nodes, 30 one-second slots of three triggers: each (trigger, slot) ran on exactly one node', async () => {
    const url = await pg.createDatabase();
    const dbs = [0, 1, 2].map(() => new Db({ url, poolSize: 4 }));
    const claimers = dbs.map(
      (db, i) => new PostgresSlotClaims({ db, migrate: () => migrate(db.pool), node: `node-${i}` }),
    );
    try {
      const winners = await race(claimers, triggers, slots);
      assert.equal(winners.size, triggers.length * slots.length, 'every slot ran');
      for (const [key, nodes] of winners) assert.equal(nodes.length, 1, `${key} ran on ${nodes.length} nodes`);
      const spread = new Set([...winners.values()].flat());
      assert.ok(spread.size >= 2, 'slots were won by more than one node (they really raced)');
      const rows = await pg.sql<{ n: string }>('SELECT count(*) AS n FROM islet.cron_claims', url.split('/').pop());
      assert.equal(Number(rows[0]!.n), triggers.length * slots.length);
      // a slot already run is never won again (a node that comes late, or restarts)
      assert.equal(await claimers[0]!.claim(triggers[0]!, slots[0]!), false);
    } finally {
      await Promise.all(dbs.map((db) => db.close()));
    }
  });
});
