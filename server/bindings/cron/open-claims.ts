// The slot claims for a node's store: on a shared PostgreSQL store, a table of that database (a
// slot runs once across every machine); on the directory store, SQLite in the data folder (a
// slot runs once across the node's processes).
import { PostgresDeploymentStore } from '../../store/postgres/store';
import type { DeploymentStore } from '../../store/types';
import { type SlotClaims, SqliteSlotClaims } from './claims';
import { PostgresSlotClaims } from './postgres-claims';

export function openSlotClaims(store: DeploymentStore, dataDir: string, node: string): SlotClaims {
  if (store instanceof PostgresDeploymentStore)
    return new PostgresSlotClaims({ db: store.database, migrate: () => store.migrate(), node });
  return SqliteSlotClaims.inDataDir(dataDir);
}
