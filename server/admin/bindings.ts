// Admin routes of a tenant's bindings and cron triggers:
//   GET  /v1/tenants/:tenant/bindings             what the tenant declares, and what its isolates get
//                                                 (merged with its active deployment's wrangler file)
//   PUT  /v1/tenants/:tenant/bindings             replaces the tenant's declarations (server/bindings/declarations.ts)
//   POST /v1/tenants/:tenant/scheduled?cron=...   runs its scheduled handler now (wrangler's --test-scheduled)
// A change of bindings gives the tenant a new isolate, as a change of env or limits does.
import type { Hono } from 'hono';
import { checkTenantDeclarations, isEmpty } from '../bindings/declarations';
import { CronTargetError, type CronRunner } from '../bindings/cron/runner';
import { resolveBindings } from '../bindings/resolve';
import { ApiError } from '../errors';
import type { Logger } from '../observe/server-log';
import type { DeploymentStore, TenantRecord } from '../store/types';
import { actor, type AdminAuth, type AdminEnv } from './auth';
import { wrote } from './consistency';
import { adminRouter } from './errors';
import { readJson, tenantParam } from './request';
import { requireTenant } from './tenants';

export interface BindingRoutesDeps {
  store: DeploymentStore;
  logger: Logger;
  auth: AdminAuth;
  /** runs scheduled handlers (absent: this process does not serve tenants) */
  cron?: CronRunner;
}

const maxCronLength = 256;

export function bindingRoutes(deps: BindingRoutesDeps): Hono<AdminEnv> {
  const { store, logger, auth } = deps;
  const app = adminRouter(logger);

  async function describe(record: TenantRecord) {
    const manifest = record.active ? await store.getDeployment(record.name, record.active) : null;
    return {
      tenant: record.name,
      declared: record.bindings ?? {},
      deployment: manifest?.bindings ?? {},
      effective: resolveBindings(record.bindings, manifest?.bindings),
    };
  }

  app.get('/v1/tenants/:tenant/bindings', auth, async (c) => {
    const tenant = tenantParam(c);
    return c.json(await describe(await requireTenant(store, tenant)));
  });

  app.put('/v1/tenants/:tenant/bindings', auth, async (c) => {
    const tenant = tenantParam(c);
    const record = await requireTenant(store, tenant);
    const body = await readJson(c, true);
    const { declarations, problems } = checkTenantDeclarations(body);
    if (problems.length)
      throw new ApiError('ISLET_ADMIN_BAD_BINDINGS', `invalid bindings:\n  - ${problems.join('\n  - ')}`);
    const next: TenantRecord = { ...record };
    if (isEmpty(declarations)) delete next.bindings;
    else next.bindings = declarations as Record<string, unknown>;
    wrote(c, await store.putTenant(next));
    logger.info('tenant bindings changed', {
      tenant,
      kv: declarations.kv_namespaces?.length ?? 0,
      services: declarations.services?.length ?? 0,
      crons: declarations.crons?.length ?? 0,
      by: actor(c),
    });
    return c.json(await describe((await store.getTenant(tenant))!));
  });

  app.post('/v1/tenants/:tenant/scheduled', auth, async (c) => {
    const tenant = tenantParam(c);
    const record = await requireTenant(store, tenant);
    if (!deps.cron) throw new ApiError('ISLET_ADMIN_UNAVAILABLE', 'this process runs no scheduled handlers');
    let cron = c.req.query('cron');
    if (cron === undefined) {
      // as wrangler's /__scheduled: the tenant's first trigger, else an empty expression
      const manifest = record.active ? await store.getDeployment(tenant, record.active) : null;
      cron = resolveBindings(record.bindings, manifest?.bindings).crons[0] ?? '';
    }
    if (cron.length > maxCronLength) {
      throw new ApiError('ISLET_ADMIN_BAD_BINDINGS', `cron: at most ${maxCronLength} characters`);
    }
    const time = c.req.query('time');
    const scheduledTime = time === undefined ? Date.now() : Number(time);
    if (!Number.isSafeInteger(scheduledTime) || scheduledTime < 0) {
      throw new ApiError('ISLET_ADMIN_BAD_BINDINGS', `time: expected milliseconds since the epoch, got ${time}`);
    }
    try {
      const result = await deps.cron.run(tenant, cron, scheduledTime);
      logger.info('scheduled handler run by hand', { tenant, cron, outcome: result.outcome, by: actor(c) });
      return c.json(result);
    } catch (error) {
      if (error instanceof CronTargetError) throw new ApiError('ISLET_ADMIN_NOT_FOUND', error.message);
      throw error;
    }
  });

  return app;
}
