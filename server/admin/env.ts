// Admin routes of a tenant's env: vars come back, secrets only by name; a key set to null is
// deleted, keys not sent are kept. Secret values never reach a log line.
//   GET /v1/tenants/:tenant/env
//   PUT /v1/tenants/:tenant/env   {"vars": {...}, "secrets": {...}}
import type { Hono } from 'hono';
import { ApiError } from '../errors';
import type { Logger } from '../observe/server-log';
import type { DeploymentStore } from '../store/types';
import { actor, type AdminAuth, type AdminEnv } from './auth';
import { wrote } from './consistency';
import { adminRouter } from './errors';
import { readJson, tenantParam } from './request';
import { requireTenant } from './tenants';

const envName = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const maxEnvValueBytes = 64 * 1024;
const maxEnvKeys = 256;

export interface EnvRoutesDeps {
  store: DeploymentStore;
  logger: Logger;
  auth: AdminAuth;
}

export function envRoutes(deps: EnvRoutesDeps): Hono<AdminEnv> {
  const { store, logger, auth } = deps;
  const app = adminRouter(logger);

  app.get('/v1/tenants/:tenant/env', auth, async (c) => {
    const tenant = tenantParam(c);
    await requireTenant(store, tenant);
    const env = await store.getEnv(tenant);
    return c.json({ vars: env.vars, secrets: Object.keys(env.secrets).sort() });
  });

  app.put('/v1/tenants/:tenant/env', auth, async (c) => {
    const tenant = tenantParam(c);
    await requireTenant(store, tenant);
    const body = await readJson(c);
    for (const key of Object.keys(body)) {
      if (key !== 'vars' && key !== 'secrets')
        throw new ApiError('ISLET_ADMIN_BAD_ENV', `unknown key '${key}': the body may carry 'vars' and 'secrets'`);
    }
    const env = await store.getEnv(tenant);
    const apply = (section: 'vars' | 'secrets') => {
      const change = body[section];
      if (change === undefined) return;
      if (typeof change !== 'object' || change === null || Array.isArray(change)) {
        throw new ApiError(
          'ISLET_ADMIN_BAD_ENV',
          `'${section}' must be an object of NAME -> string (null deletes a name)`,
        );
      }
      for (const [name, value] of Object.entries(change)) {
        if (!envName.test(name)) {
          throw new ApiError(
            'ISLET_ADMIN_BAD_ENV',
            `${section}: '${name}' is not a valid name (letters, digits and _, not starting with a digit)`,
          );
        }
        if (value === null) {
          delete env[section][name];
          continue;
        }
        if (typeof value !== 'string')
          throw new ApiError('ISLET_ADMIN_BAD_ENV', `${section}.${name} must be a string (or null to delete it)`);
        if (Buffer.byteLength(value) > maxEnvValueBytes) {
          throw new ApiError('ISLET_ADMIN_BAD_ENV', `${section}.${name} is longer than ${maxEnvValueBytes} bytes`);
        }
        env[section][name] = value;
      }
    };
    apply('vars');
    apply('secrets');
    for (const name of Object.keys(env.vars)) {
      if (name in env.secrets) throw new ApiError('ISLET_ADMIN_BAD_ENV', `'${name}' cannot be both a var and a secret`);
    }
    if (Object.keys(env.vars).length + Object.keys(env.secrets).length > maxEnvKeys) {
      throw new ApiError('ISLET_ADMIN_BAD_ENV', `a tenant may have at most ${maxEnvKeys} vars and secrets`);
    }
    wrote(c, await store.putEnv(tenant, env));
    logger.info('tenant env changed', {
      tenant,
      vars: Object.keys(env.vars).length,
      secrets: Object.keys(env.secrets).length,
      by: actor(c),
    });
    return c.json({ vars: env.vars, secrets: Object.keys(env.secrets).sort() });
  });

  return app;
}
