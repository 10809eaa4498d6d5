// Pruning the change log (islet.changes) on a shared store, safely. A change row is removed only
// when all of these hold:
//   - every live node has applied it (its revision is below the slowest live node's);
//   - it is older than the retention window (store.changeRetentionS);
//   - a newer change of the same tenant and kind exists (the log is compacted, not cut).
// The last rule is what makes pruning safe for a node that was away longer than the window:
// serving reloads a tenant wholly on any change of it, so reading the compacted log from any old
// revision still brings every tenant that changed since (a deletion included) to its current
// state. The newest row of the log is never removed (the store's revision is its revision).
// One node prunes at a time (an advisory lock); the others skip that round.
import { lockKeys } from '../store/postgres/migrations';
import type { PostgresDeploymentStore } from '../store/postgres/store';

/** removes what may go; resolves with the number of rows removed (0 when another node was pruning) */
export async function pruneChanges(store: PostgresDeploymentStore, options: { retentionS: number; liveBeats: number }) {
  await store.migrate();
  const client = await store.database.pool.connect().catch((error) => store.database.fail(error));
  try {
    await client.query('BEGIN');
    const { rows: lock } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [
      lockKeys.prune,
    ]);
    if (!lock[0]!.ok) {
      await client.query('ROLLBACK');
      return 0;
    }
    const { rowCount } = await client.query(
      `WITH newest AS (SELECT coalesce(max(revision), 0) AS revision FROM islet.changes),
            floor AS (
              SELECT least(
                (SELECT revision FROM newest),
                (SELECT min(revision) FROM islet.nodes
                  WHERE left_at IS NULL AND now() - last_seen <= heartbeat_ms * $2 * interval '1 millisecond')
              ) AS revision)
       DELETE FROM islet.changes c
       WHERE c.revision <= (SELECT revision FROM floor)
         AND c.revision < (SELECT revision FROM newest)
         AND c.at < now() - $1 * interval '1 second'
         AND EXISTS (SELECT 1 FROM islet.changes n
                     WHERE n.tenant = c.tenant AND n.kind = c.kind AND n.revision > c.revision)`,
      [options.retentionS, options.liveBeats],
    );
    await client.query('COMMIT');
    return rowCount ?? 0;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    return store.database.fail(error);
  } finally {
    client.release();
  }
}
