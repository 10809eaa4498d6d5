// Admin routes of tenants: list, create or change (limits), read, delete.
//   GET    /v1/tenants               every tenant (a deploy token sees its own only)
//   PUT    /v1/tenants/:tenant       create or replace limits (operator)
//   GET    /v1/tenants/:tenant
//   PATCH  /v1/tenants/:tenant       change limits (operator)
//   DELETE /v1/tenants/:tenant       (operator)
//   DELETE /v1/tenants/:tenant/quarantine   end a quarantine now (operator)
// A tenant's description carries `quarantine`: null, or why and until when it is refused
// (its code made worker processes die; cluster/quarantine.ts).
import type { Hono } from 'hono';
import { ApiError } from '../errors';
import type { Logger } from '../observe/server-log';
import type { DeploymentStore, TenantRecord } from '../store/types';
import type { QuarantinedTenants } from '../tenants/quarantined';
import { actor, assertOperator, principalOf, type AdminAuth, type AdminEnv } from './auth';
import { wrote } from './consistency';
import { adminRouter } from './errors';
import { readJson, tenantParam } from './request';

export interface TenantRoutesDeps {
  store: DeploymentStore;
  logger: Logger;
  auth: AdminAuth;
  /** a tenant's URL, as the API answers it */
  tenantUrl(tenant: string): string;
  /** names a tenant's `limits` may set; undefined: any name */
  limitNames?: readonly string[];
  quarantined?: QuarantinedTenants;
  liftQuarantine?: (tenant: string) => Promise<boolean>;
}

/** The tenant record, or 404. */
export async function requireTenant(store: DeploymentStore, name: string): Promise<TenantRecord> {
  const record = await store.getTenant(name);
  if (!record) throw new ApiError('ISLET_ADMIN_NOT_FOUND', `tenant '${name}' does not exist`);
  return record;
}

function parseLimits(value: unknown, limitNames: readonly string[] | undefined): Record<string, number | null> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ApiError('ISLET_ADMIN_BAD_LIMITS', "'limits' must be an object of limit name -> number");
  }
  const out: Record<string, number | null> = {};
  for (const [name, v] of Object.entries(value)) {
    if (limitNames && !limitNames.includes(name)) {
      throw new ApiError('ISLET_ADMIN_BAD_LIMITS', `unknown limit '${name}' (known: ${limitNames.join(', ')})`);
    }
    if (v !== null && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
      throw new ApiError(
        'ISLET_ADMIN_BAD_LIMITS',
        `limit '${name}' must be a non-negative number (or null to remove it)`,
      );
    }
    out[name] = v as number | null;
  }
  return out;
}

function mergeLimits(
  current: Record<string, number> | undefined,
  change: Record<string, number | null>,
): Record<string, number> {
  const next = { ...current };
  for (const [name, v] of Object.entries(change)) {
    if (v === null) delete next[name];
    else next[name] = v;
  }
  return next;
}

export function tenantRoutes(deps: TenantRoutesDeps): Hono<AdminEnv> {
  const { store, logger, auth } = deps;
  const app = adminRouter(logger);

  async function describeTenant(record: TenantRecord) {
    const active = record.active ? await store.getDeployment(record.name, record.active) : null;
    return {
      name: record.name,
      active: record.active,
      url: deps.tenantUrl(record.name),
      routes: active?.routes ?? [],
      createdAt: record.createdAt,
      limits: record.limits ?? {},
      quarantine: deps.quarantined?.get(record.name) ?? null,
    };
  }

  app.get('/v1/tenants', auth, async (c) => {
    const principal = principalOf(c);
    let records = await store.listTenants();
    if (principal?.kind === 'tenant') records = records.filter((r) => r.name === principal.tenant);
    return c.json({ tenants: await Promise.all(records.map(describeTenant)) });
  });

  app.put('/v1/tenants/:tenant', auth, async (c) => {
    const tenant = tenantParam(c);
    assertOperator(c, 'creating or changing a tenant');
    const body = await readJson(c, true);
    const existing = await store.getTenant(tenant);
    const change = body.limits === undefined ? {} : parseLimits(body.limits, deps.limitNames);
    const record: TenantRecord = {
      name: tenant,
      createdAt: existing?.createdAt ?? new Date().toISOString(),
      active: existing?.active ?? null,
      limits: mergeLimits(existing?.limits, change),
    };
    if (existing?.bindings) record.bindings = existing.bindings;
    wrote(c, await store.putTenant(record));
    logger.info(existing ? 'tenant updated' : 'tenant created', { tenant, by: actor(c) });
    return c.json(await describeTenant((await store.getTenant(tenant))!), existing ? 200 : 201);
  });

  app.get('/v1/tenants/:tenant', auth, async (c) => {
    const tenant = tenantParam(c);
    return c.json(await describeTenant(await requireTenant(store, tenant)));
  });

  app.patch('/v1/tenants/:tenant', auth, async (c) => {
    const tenant = tenantParam(c);
    assertOperator(c, 'changing tenant limits');
    const existing = await requireTenant(store, tenant);
    const body = await readJson(c);
    if (body.limits === undefined) throw new ApiError('ISLET_ADMIN_BAD_LIMITS', "the body must carry 'limits'");
    const revision = await store.putTenant({
      ...existing,
      limits: mergeLimits(existing.limits, parseLimits(body.limits, deps.limitNames)),
    });
    wrote(c, revision);
    logger.info('tenant limits changed', { tenant, by: actor(c) });
    return c.json(await describeTenant((await store.getTenant(tenant))!));
  });

  app.delete('/v1/tenants/:tenant/quarantine', auth, async (c) => {
    const tenant = tenantParam(c);
    assertOperator(c, 'lifting a quarantine');
    await requireTenant(store, tenant);
    if (!(await deps.liftQuarantine?.(tenant))) {
      throw new ApiError('ISLET_ADMIN_NOT_FOUND', `tenant '${tenant}' is not quarantined`);
    }
    logger.info('quarantine lifted', { tenant, by: actor(c) });
    return c.json({ lifted: tenant });
  });

  app.delete('/v1/tenants/:tenant', auth, async (c) => {
    const tenant = tenantParam(c);
    assertOperator(c, 'deleting a tenant');
    wrote(c, await store.deleteTenant(tenant));
    logger.info('tenant deleted', { tenant, by: actor(c) });
    return c.json({ deleted: tenant });
  });

  return app;
}
