// Admin routes of custom hostnames (server/deploy/hostnames.ts says what a route may name):
//   GET    /v1/tenants/:tenant/hostnames                     the tenant's hostnames, proved or pending
//   POST   /v1/tenants/:tenant/hostnames {"hostname"}        ask for one: a token to publish (201)
//   POST   /v1/tenants/:tenant/hostnames/:hostname/verify    islet looks for the token (DNS or HTTP)
//   PUT    /v1/tenants/:tenant/hostnames/:hostname           the operator assigns it (no proof)
//   DELETE /v1/tenants/:tenant/hostnames/:hostname
// A tenant's token reaches its own tenant only; names on the platform's base domain are refused.
import { randomBytes } from 'node:crypto';
import type { Hono } from 'hono';
import { ApiError, StoreError } from '../errors';
import { proofInstructions, proofMethod, proveHostname, type ProofSettings } from '../deploy/hostname-proof';
import { reservedError, reservedHost } from '../deploy/hostnames';
import type { Logger } from '../observe/server-log';
import { checkHostname } from '../store/hostnames';
import type { DeploymentStore, HostnameRecord } from '../store/types';
import { actor, assertOperator, isOperator, type AdminAuth, type AdminEnv } from './auth';
import { adminRouter } from './errors';
import { readJson, tenantParam } from './request';
import { requireTenant } from './tenants';

export interface HostnameRoutesDeps {
  store: DeploymentStore;
  logger: Logger;
  auth: AdminAuth;
  baseDomain: string;
  proof: ProofSettings;
  /** tests: the TXT records of a name */
  resolveTxt?: (name: string, timeoutMs: number) => Promise<string[][]>;
}

/** the hostname of a request, checked: a lower-case DNS name (or `*.` + one) off the base domain */
function hostnameOf(raw: unknown, tenant: string, baseDomain: string): string {
  if (typeof raw !== 'string' || raw === '') {
    throw new ApiError('ISLET_ADMIN_BAD_HOSTNAME', "'hostname' must be a host name such as shop.example.com");
  }
  const hostname = raw.toLowerCase().replace(/\.$/, '');
  try {
    checkHostname(hostname);
  } catch {
    throw new ApiError(
      'ISLET_ADMIN_BAD_HOSTNAME',
      `'${raw.slice(0, 100)}' is not a host name such as shop.example.com`,
    );
  }
  if (reservedHost(hostname, baseDomain, tenant) || hostname === `${tenant}.${baseDomain}`) {
    throw reservedError(`${hostname}/*`, hostname, baseDomain, tenant);
  }
  return hostname;
}

function view(record: HostnameRecord, proof: ProofSettings) {
  return {
    hostname: record.hostname,
    verified: record.verifiedBy !== null,
    verifiedBy: record.verifiedBy,
    createdAt: record.createdAt,
    ...(record.verifiedAt ? { verifiedAt: record.verifiedAt } : {}),
    token: record.token,
    proof: proofInstructions(record.hostname, record.token, proof),
  };
}

export function hostnameRoutes(deps: HostnameRoutesDeps): Hono<AdminEnv> {
  const { store, logger, auth, baseDomain, proof } = deps;
  const app = adminRouter(logger);

  async function find(tenant: string, hostname: string): Promise<HostnameRecord | undefined> {
    return (await store.listHostnames(tenant)).find((r) => r.hostname === hostname);
  }

  app.get('/v1/tenants/:tenant/hostnames', auth, async (c) => {
    const tenant = tenantParam(c);
    await requireTenant(store, tenant);
    return c.json({ hostnames: (await store.listHostnames(tenant)).map((r) => view(r, proof)) });
  });

  app.post('/v1/tenants/:tenant/hostnames', auth, async (c) => {
    const tenant = tenantParam(c);
    await requireTenant(store, tenant);
    const hostname = hostnameOf((await readJson(c)).hostname, tenant, baseDomain);
    if (!isOperator(c) && proofMethod(hostname, proof) === null) {
      throw new ApiError(
        'ISLET_ADMIN_FORBIDDEN',
        'custom hostnames are assigned by the operator here (hostnames.verification is none)',
      );
    }
    const existing = await find(tenant, hostname);
    if (existing) return c.json(view(existing, proof), 200);
    const record: HostnameRecord = {
      tenant,
      hostname,
      token: `islet_${randomBytes(18).toString('base64url')}`,
      verifiedBy: null,
      createdAt: new Date().toISOString(),
    };
    await store.putHostname(record);
    logger.info('hostname requested', { tenant, hostname, by: actor(c) });
    return c.json(view(record, proof), 201);
  });

  app.post('/v1/tenants/:tenant/hostnames/:hostname/verify', auth, async (c) => {
    const tenant = tenantParam(c);
    const hostname = hostnameOf(c.req.param('hostname'), tenant, baseDomain);
    const record = await find(tenant, hostname);
    if (!record) {
      throw new ApiError('ISLET_ADMIN_NOT_FOUND', `tenant '${tenant}' has not asked for '${hostname}': POST it first`);
    }
    if (record.verifiedBy !== null) return c.json(view(record, proof));
    const result = await proveHostname(hostname, record.token, proof, { resolveTxt: deps.resolveTxt });
    if (!result.ok) {
      logger.info('hostname not proved', { tenant, hostname, method: result.method, why: result.why });
      throw new ApiError('ISLET_ADMIN_HOSTNAME_CHECK_FAILED', `'${hostname}' is not proved yet: ${result.why}`);
    }
    const proved: HostnameRecord = { ...record, verifiedBy: result.method, verifiedAt: new Date().toISOString() };
    await store.putHostname(proved);
    logger.info('hostname proved', { tenant, hostname, method: result.method, by: actor(c) });
    return c.json(view(proved, proof));
  });

  app.put('/v1/tenants/:tenant/hostnames/:hostname', auth, async (c) => {
    const tenant = tenantParam(c);
    assertOperator(c, 'assigning a hostname without proof');
    await requireTenant(store, tenant);
    const hostname = hostnameOf(c.req.param('hostname'), tenant, baseDomain);
    const now = new Date().toISOString();
    const existing = await find(tenant, hostname);
    const record: HostnameRecord = {
      tenant,
      hostname,
      token: existing?.token ?? `islet_${randomBytes(18).toString('base64url')}`,
      verifiedBy: 'operator',
      createdAt: existing?.createdAt ?? now,
      verifiedAt: now,
    };
    await store.putHostname(record);
    logger.info('hostname assigned', { tenant, hostname, by: actor(c) });
    return c.json(view(record, proof));
  });

  app.delete('/v1/tenants/:tenant/hostnames/:hostname', auth, async (c) => {
    const tenant = tenantParam(c);
    const hostname = hostnameOf(c.req.param('hostname'), tenant, baseDomain);
    try {
      await store.deleteHostname(tenant, hostname);
    } catch (error) {
      if (error instanceof StoreError && error.code === 'ISLET_STORE_NOT_FOUND') {
        throw new ApiError('ISLET_ADMIN_NOT_FOUND', `tenant '${tenant}' has no hostname '${hostname}'`);
      }
      throw error;
    }
    logger.info('hostname removed', { tenant, hostname, by: actor(c) });
    return c.json({ deleted: hostname });
  });

  return app;
}
