// Admin route of CPU profiles (observe/profiles/):
//   POST /v1/tenants/:tenant/profile?seconds=N
// samples the tenant's isolates for N seconds (default 5, at most config profiles.maxSeconds)
// and answers a `.cpuprofile` (Chrome DevTools' Profiler.Profile as JSON) whose frames name the
// tenant's uploaded files. The operator or the tenant's own deploy token. One profile per tenant
// at a time: another while it runs is 409 PROFILE_RUNNING. `x-islet-isolates` says how many
// isolates were sampled (0: the tenant ran nowhere during the window; the profile is empty).
import type { Hono } from 'hono';
import { ApiError } from '../errors';
import type { ProfileSource } from '../observe/profiles/tenant-profiler';
import type { Logger } from '../observe/server-log';
import type { DeploymentStore } from '../store/types';
import type { AdminAuth, AdminEnv } from './auth';
import { adminRouter } from './errors';
import { tenantParam } from './request';
import { requireTenant } from './tenants';

export interface ProfileRoutesDeps {
  store: DeploymentStore;
  logger: Logger;
  auth: AdminAuth;
  profiles: ProfileSource;
  maxSeconds: number;
  samplingIntervalUs: number;
}

const DEFAULT_SECONDS = 5;

function parseSeconds(text: string | undefined, max: number): number {
  if (text === undefined || text === '') return Math.min(DEFAULT_SECONDS, max);
  const seconds = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(seconds >= 0.1) || seconds > max) {
    throw new ApiError('ISLET_ADMIN_BAD_OPTION', `seconds: expected a number from 0.1 to ${max}, got '${text}'`);
  }
  return seconds;
}

export function profileRoutes(deps: ProfileRoutesDeps): Hono<AdminEnv> {
  const app = adminRouter(deps.logger);
  app.post('/v1/tenants/:tenant/profile', deps.auth, async (c) => {
    const tenant = tenantParam(c);
    const seconds = parseSeconds(c.req.query('seconds'), deps.maxSeconds);
    await requireTenant(deps.store, tenant);
    const answer = await deps.profiles.profile({ tenant, seconds, samplingIntervalUs: deps.samplingIntervalUs });
    if (answer.busy)
      throw new ApiError('ISLET_ADMIN_PROFILE_RUNNING', `a CPU profile of tenant '${tenant}' is already running`);
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    return new Response(JSON.stringify(answer.profile), {
      headers: {
        'content-type': 'application/json',
        'content-disposition': `attachment; filename="${tenant}-${stamp}.cpuprofile"`,
        'cache-control': 'no-store',
        'x-islet-isolates': String(answer.isolates),
      },
    });
  });
  return app;
}
