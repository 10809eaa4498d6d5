// Node heartbeats in PostgreSQL (table islet.nodes, migration 4): each beat is one upsert of the
// node's row; the list judges liveness with the database's clock, against each node's own
// heartbeat interval, so the machines' clocks need not agree. Rows of nodes silent for a week
// are removed by whichever node beats.
import type { PostgresDeploymentStore } from '../store/postgres/store';
import type { NodeBeat, NodeList, NodeRecord, NodeRegistry, Propagation } from './types';

/** a node silent this long is forgotten (its row removed) */
const FORGET_AFTER = '7 days';
/** one beat in this many also removes forgotten nodes */
const SWEEP_EVERY = 100;

interface NodeRow {
  id: string;
  address: string;
  revision: string;
  workers: number;
  version: string;
  started_at: Date;
  last_seen: Date;
  heartbeat_ms: number;
  ready: boolean;
  left_at: Date | null;
  silent_ms: number;
}

export class PostgresNodeRegistry implements NodeRegistry {
  readonly #store: PostgresDeploymentStore;
  readonly #liveBeats: number;
  #beats = 0;

  constructor(store: PostgresDeploymentStore, options: { liveBeats: number }) {
    this.#store = store;
    this.#liveBeats = options.liveBeats;
  }

  async beat(beat: NodeBeat): Promise<void> {
    await this.#store.migrate();
    const db = this.#store.database;
    await db.query(
      `INSERT INTO islet.nodes (id, address, revision, workers, version, started_at, heartbeat_ms, ready)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (id) DO UPDATE SET address = EXCLUDED.address, revision = EXCLUDED.revision,
         workers = EXCLUDED.workers, version = EXCLUDED.version, started_at = EXCLUDED.started_at,
         heartbeat_ms = EXCLUDED.heartbeat_ms, ready = EXCLUDED.ready, last_seen = now(), left_at = NULL`,
      [beat.id, beat.address, beat.revision, beat.workers, beat.version, beat.startedAt, beat.heartbeatMs, beat.ready],
    );
    if (++this.#beats % SWEEP_EVERY === 1) {
      await db.query(`DELETE FROM islet.nodes WHERE last_seen < now() - interval '${FORGET_AFTER}'`);
    }
  }

  async applied(id: string, revision: number): Promise<void> {
    await this.#store.migrate();
    await this.#store.database.query(
      'UPDATE islet.nodes SET revision = greatest(revision, $2) WHERE id = $1 AND revision < $2',
      [id, revision],
    );
  }

  async behind(revision: number, self: string): Promise<{ id: string; address: string; revision: number }[]> {
    await this.#store.migrate();
    const { rows } = await this.#store.database.query<{ id: string; address: string; revision: string }>(
      `SELECT id, address, revision FROM islet.nodes
       WHERE id <> $2 AND revision < $1 AND left_at IS NULL
         AND now() - last_seen <= heartbeat_ms * $3 * interval '1 millisecond'
       ORDER BY id COLLATE "C"`,
      [revision, self, this.#liveBeats],
    );
    return rows.map((r) => ({ id: r.id, address: r.address, revision: Number(r.revision) }));
  }

  async propagation(tenant: string): Promise<Propagation> {
    await this.#store.migrate();
    // compaction keeps the newest change of every tenant and kind, so the maximum survives pruning
    const { rows } = await this.#store.database.query<{ revision: string | null }>(
      'SELECT max(revision) AS revision FROM islet.changes WHERE tenant = $1',
      [tenant],
    );
    const revision = Number(rows[0]?.revision ?? 0);
    return { revision, lagging: revision ? await this.behind(revision, '') : [] };
  }

  async list(): Promise<NodeList> {
    await this.#store.migrate();
    const db = this.#store.database;
    const [{ rows }, revision] = await Promise.all([
      db.query<NodeRow>(
        `SELECT *, (extract(epoch FROM now() - last_seen) * 1000)::float8 AS silent_ms
         FROM islet.nodes ORDER BY id COLLATE "C"`,
      ),
      this.#store.currentRevision(),
    ]);
    return { revision, nodes: rows.map((row) => this.#record(row, revision)) };
  }

  async leave(id: string): Promise<void> {
    await this.#store.migrate();
    await this.#store.database.query('UPDATE islet.nodes SET left_at = now() WHERE id = $1', [id]);
  }

  #record(row: NodeRow, current: number): NodeRecord {
    const revision = Number(row.revision);
    const silentMs = Math.max(0, Math.round(row.silent_ms));
    return {
      id: row.id,
      address: row.address,
      revision,
      workers: row.workers,
      version: row.version,
      startedAt: row.started_at.toISOString(),
      heartbeatMs: row.heartbeat_ms,
      ready: row.ready,
      lastSeen: row.last_seen.toISOString(),
      silentMs,
      live: row.left_at === null && silentMs <= row.heartbeat_ms * this.#liveBeats,
      lag: Math.max(0, current - revision),
      leftAt: row.left_at?.toISOString() ?? null,
    };
  }
}
