// The node registry for a store: heartbeats in PostgreSQL for the shared store, this node alone
// in memory for the directory store.
import { PostgresDeploymentStore } from '../store/postgres/store';
import type { DeploymentStore } from '../store/types';
import { LocalNodeRegistry } from './local-registry';
import { PostgresNodeRegistry } from './postgres-registry';
import type { NodeRegistry } from './types';

export function openNodeRegistry(store: DeploymentStore, options: { liveBeats: number }): NodeRegistry {
  return store instanceof PostgresDeploymentStore
    ? new PostgresNodeRegistry(store, options)
    : new LocalNodeRegistry(store);
}
