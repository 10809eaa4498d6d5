// Read-your-writes across machines: an admin write answers once every serving process of this
// node serves it (admin/consistency.ts's WriteSync, through the supervisor's fan-out) AND every
// other live node has applied its revision (each node reports its applied revision in its
// heartbeat row, at once when it moves: nodes/node.ts). Both waits run together within one
// bound (cluster.syncTimeoutMs, 5 s by default); past it the answer goes and names the nodes
// that lag (admin/consistency.ts adds them to the body's `lagging` and the islet-lagging
// header). A node that is not live (silent for nodes.liveBeats beats, or left) is not waited for.
import type { Lag, WriteSync } from '../admin/consistency';
import type { NodeRegistry } from './types';

/** how often the node rows are read while a write waits */
const POLL_MS = 20;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function acrossNodes(local: WriteSync, registry: NodeRegistry, self: string, timeoutMs: number): WriteSync {
  const others = async (revision: number): Promise<Lag[]> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let behind: Awaited<ReturnType<NodeRegistry['behind']>>;
      try {
        behind = await registry.behind(revision, self);
      } catch (error) {
        return [{ worker: 'the other nodes', reason: 'failed', message: (error as Error).message }];
      }
      if (behind.length === 0) return [];
      if (Date.now() >= deadline) {
        return behind.map((node) => ({
          worker: `node ${node.id} (${node.address})`,
          node: node.id,
          reason: 'timeout' as const,
          message: `node ${node.id} applied revision ${node.revision}, short of ${revision}, within ${timeoutMs} ms`,
        }));
      }
      await sleep(POLL_MS);
    }
  };
  return {
    reach: async (revision) => {
      const [here, elsewhere] = await Promise.all([local.reach(revision), others(revision)]);
      return [...here, ...elsewhere];
    },
  };
}
