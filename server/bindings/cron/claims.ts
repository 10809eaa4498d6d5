// Which process runs a cron slot. Every process that schedules triggers asks to claim
// (trigger, slot) before it runs one, and only the claim that wins runs it: so a slot runs once
// even while two schedulers overlap (a worker being replaced next to its successor, a restart
// in the middle of a minute). The local claims live in one SQLite file of the data folder,
// shared by the node's processes (`INSERT OR IGNORE` on the pair's primary key); on a shared
// PostgreSQL store the same interface is one `INSERT ... ON CONFLICT DO NOTHING` on a table of
// the store (the next part of this work), which makes a slot run once across every machine.
import path from 'node:path';
import type Database from 'better-sqlite3';
import { openSqlite } from '../kv/sqlite';

export interface SlotClaims {
  /** true when this caller won the slot (and must run it); false when another already had it */
  claim(trigger: string, slot: number): Promise<boolean>;
  close(): void;
}

/** claims older than this are forgotten (a slot is never claimed again once its time is past) */
const KEEP_MS = 2 * 24 * 3600_000;

export class SqliteSlotClaims implements SlotClaims {
  readonly #db: Database.Database;
  readonly #insert: Database.Statement<[string, number, number]>;
  readonly #prune: Database.Statement<[number]>;
  #claims = 0;

  constructor(file: string) {
    this.#db = openSqlite(file);
    this.#db.exec(`CREATE TABLE IF NOT EXISTS cron_claims (
      trigger TEXT NOT NULL, slot INTEGER NOT NULL, claimed_at INTEGER NOT NULL, PRIMARY KEY (trigger, slot))`);
    this.#insert = this.#db.prepare('INSERT OR IGNORE INTO cron_claims (trigger, slot, claimed_at) VALUES (?, ?, ?)');
    this.#prune = this.#db.prepare('DELETE FROM cron_claims WHERE slot < ?');
  }

  static inDataDir(dataDir: string): SqliteSlotClaims {
    return new SqliteSlotClaims(path.join(dataDir, 'cron.sqlite'));
  }

  async claim(trigger: string, slot: number): Promise<boolean> {
    if (++this.#claims % 1000 === 0) this.#prune.run(Date.now() - KEEP_MS);
    return this.#insert.run(trigger, slot, Date.now()).changes === 1;
  }

  close(): void {
    this.#db.close();
  }
}
