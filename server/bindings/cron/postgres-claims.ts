// Cron slot claims across machines (table islet.cron_claims, migration 4): the node whose
// `INSERT ... ON CONFLICT DO NOTHING` adds the (trigger, slot) row runs the slot; every other
// node's insert adds nothing and it skips the slot. A database that cannot be reached fails the
// claim, and the scheduler skips the slot (at most once, never twice). Old rows are pruned.
import type { Db } from '../../store/postgres/db';
import type { SlotClaims } from './claims';

/** one claim in this many also removes claims older than two days */
const PRUNE_EVERY = 1000;

export interface PostgresSlotClaimsOptions {
  db: Db;
  /** applies the store's migrations (the claims table is migration 4) */
  migrate(): Promise<unknown>;
  /** this node's id (kept on the row: which node ran a slot) */
  node: string;
}

/** PostgreSQL text cannot hold NUL: the trigger key is escaped without losing what tells keys apart */
function textKey(trigger: string): string {
  return trigger.replaceAll('\\', '\\\\').replaceAll('\u0000', '\\0');
}

export class PostgresSlotClaims implements SlotClaims {
  readonly #options: PostgresSlotClaimsOptions;
  #claims = 0;

  constructor(options: PostgresSlotClaimsOptions) {
    this.#options = options;
  }

  async claim(trigger: string, slot: number): Promise<boolean> {
    const { db, migrate, node } = this.#options;
    await migrate();
    if (++this.#claims % PRUNE_EVERY === 0) {
      await db.query("DELETE FROM islet.cron_claims WHERE claimed_at < now() - interval '2 days'");
    }
    const { rowCount } = await db.query(
      'INSERT INTO islet.cron_claims (trigger, slot, node) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
      [textKey(trigger), slot, node],
    );
    return rowCount === 1;
  }

  /** the store owns the database connection */
  close(): void {}
}
