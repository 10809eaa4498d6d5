// Admin routes of deploy tokens: a tenant's CI credential, shown once and stored as its sha256
// only; all of them operator-only.
//   POST   /v1/tenants/:tenant/tokens       {"description"?} -> {"id", "token"}
//   GET    /v1/tenants/:tenant/tokens       ids, descriptions, creation times (never hashes)
//   DELETE /v1/tenants/:tenant/tokens/:id   revoke
import { randomBytes } from 'node:crypto';
import type { Hono } from 'hono';
import { ApiError, StoreError } from '../errors';
import type { Logger } from '../observe/server-log';
import { checkId } from '../store/names';
import type { DeploymentStore } from '../store/types';
import { actor, assertOperator, hashToken, newToken, type AdminAuth, type AdminEnv } from './auth';
import { wrote } from './consistency';
import { adminRouter } from './errors';
import { readJson, tenantParam } from './request';
import { requireTenant } from './tenants';

export interface TokenRoutesDeps {
  store: DeploymentStore;
  logger: Logger;
  auth: AdminAuth;
}

export function tokenRoutes(deps: TokenRoutesDeps): Hono<AdminEnv> {
  const { store, logger, auth } = deps;
  const app = adminRouter(logger);

  app.post('/v1/tenants/:tenant/tokens', auth, async (c) => {
    const tenant = tenantParam(c);
    assertOperator(c, 'creating deploy tokens');
    await requireTenant(store, tenant);
    const body = await readJson(c, true);
    const token = newToken();
    const id = `tok_${randomBytes(8).toString('hex')}`;
    const record = { id, tenant, hash: hashToken(token).toString('hex'), createdAt: new Date().toISOString() } as const;
    const description = typeof body.description === 'string' ? body.description.slice(0, 200) : undefined;
    wrote(c, await store.putToken(description ? { ...record, description } : record));
    logger.info('deploy token created', { tenant, token: id, by: actor(c) });
    return c.json({ id, token }, 201);
  });

  app.get('/v1/tenants/:tenant/tokens', auth, async (c) => {
    const tenant = tenantParam(c);
    assertOperator(c, 'listing deploy tokens');
    await requireTenant(store, tenant);
    const tokens = await store.listTokens(tenant);
    return c.json({ tokens: tokens.map(({ hash: _hash, ...rest }) => rest) });
  });

  app.delete('/v1/tenants/:tenant/tokens/:id', auth, async (c) => {
    const tenant = tenantParam(c);
    assertOperator(c, 'revoking deploy tokens');
    const id = c.req.param('id');
    checkId(id, 'token id');
    const token = (await store.listTokens(tenant)).find((t) => t.id === id);
    if (!token) throw new ApiError('ISLET_ADMIN_NOT_FOUND', `tenant '${tenant}' has no token '${id}'`);
    try {
      wrote(c, await store.deleteToken(id));
    } catch (error) {
      // revoked meanwhile by another request: the token is gone either way
      if (!(error instanceof StoreError && error.code === 'ISLET_STORE_NOT_FOUND')) throw error;
    }
    logger.info('deploy token revoked', { tenant, token: id, by: actor(c) });
    return c.json({ deleted: id });
  });

  return app;
}
