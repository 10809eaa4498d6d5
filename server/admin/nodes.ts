// GET /v1/nodes (operator): the islet nodes sharing this store, from their heartbeats (server/nodes/):
// id, address, applied revision and how far it lags the store's, workers, version, when it
// started and was last seen, whether it is live (beat within its last `nodes.liveBeats`
// intervals) and ready (caught up with the change log since it started).
import type { Hono } from 'hono';
import type { NodeRegistry } from '../nodes/types';
import type { Logger } from '../observe/server-log';
import { type AdminAuth, type AdminEnv, assertOperator } from './auth';
import { adminRouter } from './errors';

export interface NodeRoutesDeps {
  auth: AdminAuth;
  nodes: NodeRegistry;
  /** this node's id (marked `self` in the list) */
  self: string;
  logger?: Logger;
}

export function nodeRoutes(deps: NodeRoutesDeps): Hono<AdminEnv> {
  const app = adminRouter(deps.logger);
  app.get('/v1/nodes', deps.auth, async (c) => {
    assertOperator(c, 'listing the nodes');
    const { revision, nodes } = await deps.nodes.list();
    return c.json({
      revision,
      live: nodes.filter((n) => n.live).length,
      nodes: nodes.map((n) => ({ ...n, self: n.id === deps.self })),
    });
  });
  return app;
}
