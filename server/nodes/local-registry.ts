// The node list on the directory store (one machine): this node alone, as its last heartbeat
// said, kept in memory. The store's change log still gives the revision it lags by.
import type { DeploymentStore } from '../store/types';
import type { NodeBeat, NodeList, NodeRegistry, Propagation } from './types';

export class LocalNodeRegistry implements NodeRegistry {
  readonly #store: DeploymentStore;
  #last: { beat: NodeBeat; at: number; leftAt: number | null } | null = null;

  constructor(store: DeploymentStore) {
    this.#store = store;
  }

  async beat(beat: NodeBeat): Promise<void> {
    this.#last = { beat: { ...beat }, at: Date.now(), leftAt: null };
  }

  async list(): Promise<NodeList> {
    const revision = await this.#store.currentRevision();
    const last = this.#last;
    if (!last) return { revision, nodes: [] };
    return {
      revision,
      nodes: [
        {
          ...last.beat,
          lastSeen: new Date(last.at).toISOString(),
          silentMs: Date.now() - last.at,
          live: last.leftAt === null,
          lag: Math.max(0, revision - last.beat.revision),
          leftAt: last.leftAt === null ? null : new Date(last.leftAt).toISOString(),
        },
      ],
    };
  }

  async applied(id: string, revision: number): Promise<void> {
    if (this.#last?.beat.id === id) this.#last.beat.revision = Math.max(this.#last.beat.revision, revision);
  }

  /** one machine: what this node serves is what the store holds once its follower applied it */
  async propagation(): Promise<Propagation> {
    return { revision: this.#last?.beat.revision ?? 0, lagging: [] };
  }

  /** one machine: no other node to wait for */
  async behind(): Promise<{ id: string; address: string; revision: number }[]> {
    return [];
  }

  async leave(id: string): Promise<void> {
    if (this.#last?.beat.id === id) this.#last.leftAt = Date.now();
  }
}
