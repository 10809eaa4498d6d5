// The admin HTTP API (admin port): tenants, deployments (upload, list, activate, delete), env,
// deploy tokens. JSON in and out; errors as {"error": {"code", "message"}}; every route but
// /healthz behind a bearer token (auth.ts). Other rooms mount their admin routes (logs, metrics)
// on the returned app, after `authMiddleware`, using `requireTenantAccess`/`requireOperator`.
import { randomBytes } from 'node:crypto';
import { Hono, type Context } from 'hono';
import type { Logger } from '../log';
import { checkId, checkTenantName } from '../store/names';
import { isStoreError } from '../store/errors';
import type { DeploymentManifest, DeploymentStore, TenantRecord } from '../store/types';
import { nullObserver, type TenantObserver } from '../tenants/observer';
import { assertOperator, assertTenantAccess, authMiddleware, hashToken, newToken, type AdminEnv } from './auth';
import { ApiError, errorBody, handleError } from './http-errors';
import { defaultUploadLimits, type UploadLimits } from './limits';
import { publish, type PrepareHook } from './publish';
import { assertRoutesFree, routeConflicts } from './routes';
import { DeployGate } from './gate';
import { readBody, readUpload } from './upload';

export interface AdminApiDeps {
  store: DeploymentStore;
  logger: Logger;
  observer?: TenantObserver;
  operatorToken: string;
  /** tenant URLs are http://<tenant>.<baseDomain>[:port]/ */
  baseDomain: string;
  tenantPort: number;
  /** overrides the URL scheme above (https behind a proxy, ...) */
  tenantUrl?: (tenant: string) => string;
  limits?: Partial<UploadLimits>;
  prepare?: PrepareHook;
  /** names of the per-tenant limits a tenant record may override; default: the keys of
   *  `config.limits` when a config is given, else any name */
  limitNames?: readonly string[];
  config?: { limits?: object };
  /** deployments built at once (default 2) and waiting beyond those (default 16; more: 503) */
  deployConcurrency?: number;
  deployQueue?: number;
}

const envName = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const maxEnvValueBytes = 64 * 1024;
const maxEnvKeys = 256;
const maxJsonBytes = 1024 * 1024;

async function readJson(c: Context, optional = false): Promise<Record<string, unknown>> {
  const body = await readBody(c, maxJsonBytes);
  if (body.length === 0) {
    if (optional) return {};
    throw new ApiError(400, 'BAD_JSON', 'the request body is empty: send a JSON object');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new ApiError(400, 'BAD_JSON', `the request body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ApiError(400, 'BAD_JSON', 'the request body must be a JSON object');
  return parsed as Record<string, unknown>;
}

/** who made a change, for the log: the operator, or which deploy token */
function actor(c: Context<AdminEnv>): string {
  const principal = c.get('principal');
  return principal.kind === 'operator' ? 'operator' : `token:${principal.tokenId}`;
}

function tenantParam(c: Context<AdminEnv>): string {
  const tenant = c.req.param('tenant')!;
  checkTenantName(tenant);
  assertTenantAccess(c, tenant);
  return tenant;
}

export function createAdminApi(deps: AdminApiDeps): Hono<AdminEnv> {
  const { store, logger } = deps;
  const observer = deps.observer ?? nullObserver;
  const limits: UploadLimits = { ...defaultUploadLimits, ...deps.limits };
  const tenantUrl =
    deps.tenantUrl ?? ((t: string) => `http://${t}.${deps.baseDomain}${deps.tenantPort === 80 ? '' : `:${deps.tenantPort}`}/`);

  const limitNames = deps.limitNames ?? (deps.config?.limits ? Object.keys(deps.config.limits) : undefined);
  const gate = new DeployGate(deps.deployConcurrency ?? 2, deps.deployQueue ?? 16);

  const app = new Hono<AdminEnv>();
  app.onError(handleError(logger));
  app.notFound((c) => c.json(errorBody('NOT_FOUND', `no admin route ${c.req.method} ${c.req.path}`), 404));

  app.get('/healthz', (c) => c.json({ ok: true }));
  app.use('/v1/*', authMiddleware(store, deps.operatorToken));

  async function requireTenant(name: string): Promise<TenantRecord> {
    const record = await store.getTenant(name);
    if (!record) throw new ApiError(404, 'NOT_FOUND', `tenant '${name}' does not exist`);
    return record;
  }

  async function describeTenant(record: TenantRecord) {
    const active = record.active ? await store.getDeployment(record.name, record.active) : null;
    return {
      name: record.name,
      active: record.active,
      url: tenantUrl(record.name),
      routes: active?.routes ?? [],
      createdAt: record.createdAt,
      limits: record.limits ?? {},
    };
  }

  function parseLimits(value: unknown): Record<string, number | null> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ApiError(400, 'BAD_LIMITS', "'limits' must be an object of limit name -> number");
    const out: Record<string, number | null> = {};
    for (const [name, v] of Object.entries(value)) {
      if (limitNames && !limitNames.includes(name)) {
        throw new ApiError(400, 'BAD_LIMITS', `unknown limit '${name}' (known: ${limitNames.join(', ')})`);
      }
      if (v !== null && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
        throw new ApiError(400, 'BAD_LIMITS', `limit '${name}' must be a non-negative number (or null to remove it)`);
      }
      out[name] = v as number | null;
    }
    return out;
  }

  function mergeLimits(current: Record<string, number> | undefined, change: Record<string, number | null>): Record<string, number> {
    const next = { ...current };
    for (const [name, v] of Object.entries(change)) {
      if (v === null) delete next[name];
      else next[name] = v;
    }
    return next;
  }

  // ---- tenants ----

  app.get('/v1/tenants', async (c) => {
    const principal = c.get('principal');
    let records = await store.listTenants();
    if (principal.kind === 'tenant') records = records.filter((r) => r.name === principal.tenant);
    return c.json({ tenants: await Promise.all(records.map(describeTenant)) });
  });

  app.put('/v1/tenants/:tenant', async (c) => {
    const tenant = tenantParam(c);
    assertOperator(c, 'creating or changing a tenant');
    const body = await readJson(c, true);
    const existing = await store.getTenant(tenant);
    const change = body.limits === undefined ? {} : parseLimits(body.limits);
    const record: TenantRecord = {
      name: tenant,
      createdAt: existing?.createdAt ?? new Date().toISOString(),
      active: existing?.active ?? null,
      limits: mergeLimits(existing?.limits, change),
    };
    await store.putTenant(record);
    logger.info(existing ? 'tenant updated' : 'tenant created', { tenant, by: actor(c) });
    return c.json(await describeTenant((await store.getTenant(tenant))!), existing ? 200 : 201);
  });

  app.get('/v1/tenants/:tenant', async (c) => {
    const tenant = tenantParam(c);
    return c.json(await describeTenant(await requireTenant(tenant)));
  });

  app.patch('/v1/tenants/:tenant', async (c) => {
    const tenant = tenantParam(c);
    assertOperator(c, 'changing tenant limits');
    const existing = await requireTenant(tenant);
    const body = await readJson(c);
    if (body.limits === undefined) throw new ApiError(400, 'BAD_LIMITS', "the body must carry 'limits'");
    await store.putTenant({ ...existing, limits: mergeLimits(existing.limits, parseLimits(body.limits)) });
    logger.info('tenant limits changed', { tenant, by: actor(c) });
    return c.json(await describeTenant((await store.getTenant(tenant))!));
  });

  app.delete('/v1/tenants/:tenant', async (c) => {
    const tenant = tenantParam(c);
    assertOperator(c, 'deleting a tenant');
    await store.deleteTenant(tenant);
    logger.info('tenant deleted', { tenant, by: actor(c) });
    return c.json({ deleted: tenant });
  });

  // ---- deployments ----

  app.post('/v1/tenants/:tenant/deployments', async (c) => {
    const tenant = tenantParam(c);
    if (!(await store.getTenant(tenant)) && c.get('principal').kind !== 'operator') {
      throw new ApiError(404, 'NOT_FOUND', `tenant '${tenant}' does not exist`);
    }
    // the body is read inside the gate too: each upload buffers up to maxRequestBytes, so
    // reading them all at once would let a burst of uploads exhaust the server's memory; a
    // waiting upload stays in its socket (TCP backpressure) until its turn
    const { manifest, active } = await gate.run(async () => {
      let upload;
      try {
        upload = await readUpload(c, limits);
      } catch (error) {
        observer.deployment(tenant, 'failure');
        throw error;
      }
      // the operator may nest one tenant's routes in another's; a deploy token may not
      const nested = c.get('principal').kind === 'operator';
      if (upload.activate) await assertRoutesFree(store, tenant, upload.routes, { nested });
      const options: Parameters<typeof publish>[3] = {
        bundle: upload.bundle,
        routes: upload.routes,
        activate: upload.activate,
        limits,
        actor: actor(c),
        routeConflicts: routeConflicts({ nested }),
      };
      if (upload.entry) options.entry = upload.entry;
      if (upload.compatibility) options.compatibility = upload.compatibility;
      const publishDeps: Parameters<typeof publish>[0] = { store, logger, observer };
      if (deps.prepare) publishDeps.prepare = deps.prepare;
      return publish(publishDeps, tenant, upload.files, options);
    });
    return c.json({ id: manifest.id, hash: manifest.hash, url: tenantUrl(tenant), warnings: manifest.warnings, active }, 201);
  });

  app.get('/v1/tenants/:tenant/deployments', async (c) => {
    const tenant = tenantParam(c);
    const record = await requireTenant(tenant);
    return c.json({ active: record.active, deployments: await store.listDeployments(tenant) });
  });

  async function requireDeployment(tenant: string, id: string): Promise<DeploymentManifest> {
    checkId(id, 'deployment id');
    const manifest = await store.getDeployment(tenant, id);
    if (!manifest) throw new ApiError(404, 'NOT_FOUND', `tenant '${tenant}' has no deployment '${id}'`);
    return manifest;
  }

  app.get('/v1/tenants/:tenant/deployments/:id', async (c) => {
    const tenant = tenantParam(c);
    await requireTenant(tenant);
    return c.json(await requireDeployment(tenant, c.req.param('id')));
  });

  app.post('/v1/tenants/:tenant/deployments/:id/activate', async (c) => {
    const tenant = tenantParam(c);
    const previous = (await requireTenant(tenant)).active;
    const manifest = await requireDeployment(tenant, c.req.param('id'));
    const nested = c.get('principal').kind === 'operator';
    await assertRoutesFree(store, tenant, manifest.routes, { nested });
    await store.activate(tenant, manifest.id, { conflicts: routeConflicts({ nested }) });
    logger.info('deployment activated', { tenant, deployment: manifest.id, previous, by: actor(c) });
    return c.json({ id: manifest.id, active: true, previous, url: tenantUrl(tenant) });
  });

  app.delete('/v1/tenants/:tenant/deployments/:id', async (c) => {
    const tenant = tenantParam(c);
    await requireTenant(tenant);
    const manifest = await requireDeployment(tenant, c.req.param('id'));
    await store.deleteDeployment(tenant, manifest.id);
    logger.info('deployment deleted', { tenant, deployment: manifest.id, by: actor(c) });
    return c.json({ deleted: manifest.id });
  });

  // ---- env ----

  app.get('/v1/tenants/:tenant/env', async (c) => {
    const tenant = tenantParam(c);
    await requireTenant(tenant);
    const env = await store.getEnv(tenant);
    return c.json({ vars: env.vars, secrets: Object.keys(env.secrets).sort() });
  });

  app.put('/v1/tenants/:tenant/env', async (c) => {
    const tenant = tenantParam(c);
    await requireTenant(tenant);
    const body = await readJson(c);
    for (const key of Object.keys(body)) {
      if (key !== 'vars' && key !== 'secrets') throw new ApiError(400, 'BAD_ENV', `unknown key '${key}': the body may carry 'vars' and 'secrets'`);
    }
    const env = await store.getEnv(tenant);
    const apply = (section: 'vars' | 'secrets') => {
      const change = body[section];
      if (change === undefined) return;
      if (typeof change !== 'object' || change === null || Array.isArray(change)) throw new ApiError(400, 'BAD_ENV', `'${section}' must be an object of NAME -> string (null deletes a name)`);
      for (const [name, value] of Object.entries(change)) {
        if (!envName.test(name)) throw new ApiError(400, 'BAD_ENV', `${section}: '${name}' is not a valid name (letters, digits and _, not starting with a digit)`);
        if (value === null) {
          delete env[section][name];
          continue;
        }
        if (typeof value !== 'string') throw new ApiError(400, 'BAD_ENV', `${section}.${name} must be a string (or null to delete it)`);
        if (Buffer.byteLength(value) > maxEnvValueBytes) throw new ApiError(400, 'BAD_ENV', `${section}.${name} is longer than ${maxEnvValueBytes} bytes`);
        env[section][name] = value;
      }
    };
    apply('vars');
    apply('secrets');
    for (const name of Object.keys(env.vars)) {
      if (name in env.secrets) throw new ApiError(400, 'BAD_ENV', `'${name}' cannot be both a var and a secret`);
    }
    if (Object.keys(env.vars).length + Object.keys(env.secrets).length > maxEnvKeys) {
      throw new ApiError(400, 'BAD_ENV', `a tenant may have at most ${maxEnvKeys} vars and secrets`);
    }
    await store.putEnv(tenant, env);
    // names only: secret values never reach a log line
    logger.info('tenant env changed', { tenant, vars: Object.keys(env.vars).length, secrets: Object.keys(env.secrets).length, by: actor(c) });
    return c.json({ vars: env.vars, secrets: Object.keys(env.secrets).sort() });
  });

  // ---- deploy tokens ----

  app.post('/v1/tenants/:tenant/tokens', async (c) => {
    const tenant = tenantParam(c);
    assertOperator(c, 'creating deploy tokens');
    await requireTenant(tenant);
    const body = await readJson(c, true);
    const token = newToken();
    const id = `tok_${randomBytes(8).toString('hex')}`;
    const record = { id, tenant, hash: hashToken(token).toString('hex'), createdAt: new Date().toISOString() } as const;
    const description = typeof body.description === 'string' ? body.description.slice(0, 200) : undefined;
    await store.putToken(description ? { ...record, description } : record);
    logger.info('deploy token created', { tenant, token: id, by: actor(c) });
    return c.json({ id, token }, 201);
  });

  app.get('/v1/tenants/:tenant/tokens', async (c) => {
    const tenant = tenantParam(c);
    assertOperator(c, 'listing deploy tokens');
    await requireTenant(tenant);
    const tokens = await store.listTokens(tenant);
    return c.json({ tokens: tokens.map(({ hash: _hash, ...rest }) => rest) });
  });

  app.delete('/v1/tenants/:tenant/tokens/:id', async (c) => {
    const tenant = tenantParam(c);
    assertOperator(c, 'revoking deploy tokens');
    const id = c.req.param('id');
    checkId(id, 'token id');
    const token = (await store.listTokens(tenant)).find((t) => t.id === id);
    if (!token) throw new ApiError(404, 'NOT_FOUND', `tenant '${tenant}' has no token '${id}'`);
    try {
      await store.deleteToken(id);
    } catch (error) {
      if (!isStoreError(error, 'STORE_NOT_FOUND')) throw error;
    }
    logger.info('deploy token revoked', { tenant, token: id, by: actor(c) });
    return c.json({ deleted: id });
  });

  return app;
}
