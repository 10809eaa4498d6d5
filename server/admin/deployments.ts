// Admin routes of deployments: upload (build, validate, store, activate), list, read, activate
// (rollback), delete.
//   POST   /v1/tenants/:tenant/deployments               an upload (deploy/upload.ts reads its forms)
//   GET    /v1/tenants/:tenant/deployments               versions, newest first, and the active one
//   GET    /v1/tenants/:tenant/deployments/:id
//   POST   /v1/tenants/:tenant/deployments/:id/activate  rollback = activating an older one
//   POST   /v1/tenants/:tenant/rollback                  {"id"?}: that one, or the one deployed before the active one
//   DELETE /v1/tenants/:tenant/deployments/:id           409 while active
//   GET    /v1/tenants/:tenant/deployments/:id/files     the files it was built from (sources.ts)
//   GET    /v1/tenants/:tenant/deployments/:id/files/<path>   one of them, as text
//   GET    /v1/tenants/:tenant/deployments/:from/diff/:to     what changed, file by file
import type { Context, Hono } from 'hono';
import { ApiError } from '../errors';
import type { Logger } from '../observe/server-log';
import type { DeploySettings } from '../config';
import type { Builder } from '../deploy/build-pool';
import { DeployGate } from '../deploy/gate';
import type { UploadLimits } from '../deploy/limits';
import { publish, type PrepareHook } from '../deploy/publish';
import { assertRoutesAllowed } from '../deploy/hostnames';
import { assertRoutesFree, routeConflicts } from '../deploy/routes';
import { readUpload } from '../deploy/upload';
import { checkId } from '../store/names';
import type { DeploymentManifest, DeploymentStore } from '../store/types';
import type { TenantObserver } from '../tenants/observer';
import { actor, isOperator, type AdminAuth, type AdminEnv } from './auth';
import { wrote } from './consistency';
import { adminRouter } from './errors';
import { readJson, tenantParam } from './request';
import { deploymentSources, diffSources } from './sources';
import { requireTenant } from './tenants';

export interface DeploymentRoutesDeps {
  store: DeploymentStore;
  logger: Logger;
  auth: AdminAuth;
  observer: TenantObserver;
  limits: UploadLimits;
  prepare?: PrepareHook;
  tenantUrl(tenant: string): string;
  /** the platform's base domain: no route may name it or what is under it (deploy/hostnames.ts) */
  baseDomain: string;
  /** deployments built at once (default 2) and waiting beyond those (default 16; more: 503) */
  deployConcurrency?: number;
  deployQueue?: number;
  /** build gate shares, the module bound and storage quotas (config `deploy`); default: no quota */
  deploy?: Partial<DeploySettings>;
  /** where builds run (a BuildPool's child processes); default: in this process */
  builder?: Builder;
}

export function deploymentRoutes(deps: DeploymentRoutesDeps): Hono<AdminEnv> {
  const { store, logger, auth, observer, limits } = deps;
  const settings = deps.deploy ?? {};
  const queue = deps.deployQueue ?? settings.queue ?? 16;
  const gate = new DeployGate(
    deps.deployConcurrency ?? settings.concurrency ?? 2,
    queue,
    settings.queuePerTenant ?? queue,
  );
  const quota =
    settings.maxVersions !== undefined && settings.maxStoredBytes !== undefined
      ? {
          maxVersions: settings.maxVersions,
          maxStoredBytes: settings.maxStoredBytes,
          quotaPolicy: settings.quotaPolicy ?? 'prune',
        }
      : undefined;
  const app = adminRouter(logger);

  async function requireDeployment(tenant: string, id: string): Promise<DeploymentManifest> {
    checkId(id, 'deployment id');
    const manifest = await store.getDeployment(tenant, id);
    if (!manifest) throw new ApiError('ISLET_ADMIN_NOT_FOUND', `tenant '${tenant}' has no deployment '${id}'`);
    return manifest;
  }

  app.post('/v1/tenants/:tenant/deployments', auth, async (c) => {
    const tenant = tenantParam(c);
    if (!(await store.getTenant(tenant)) && !isOperator(c)) {
      throw new ApiError('ISLET_ADMIN_NOT_FOUND', `tenant '${tenant}' does not exist`);
    }
    // the body is read inside the gate too: each upload buffers up to maxRequestBytes, so
    // reading them all at once would let a burst of uploads exhaust the server's memory; a
    // waiting upload stays in its socket (TCP backpressure) until its turn
    const { manifest, active, revision } = await gate.run(tenant, async () => {
      let upload: Awaited<ReturnType<typeof readUpload>>;
      try {
        upload = await readUpload(c, limits);
      } catch (error) {
        observer.deployment(tenant, 'failure');
        throw error;
      }
      // hostnames first (owned, off the base domain), so a tenant learns nothing of routes it may
      // not use; then the operator may nest one tenant's routes in another's, a deploy token not
      await assertRoutesAllowed(store, tenant, upload.routes, { baseDomain: deps.baseDomain, operator: isOperator(c) });
      if (upload.activate) await assertRoutesFree(store, tenant, upload.routes, { nested: isOperator(c) });
      const options: Parameters<typeof publish>[3] = {
        bundle: upload.bundle,
        routes: upload.routes,
        activate: upload.activate,
        limits,
        actor: actor(c),
        // the store claims the routes atomically with the activation (two racing deploys: one wins)
        routeConflicts: routeConflicts({ nested: isOperator(c) }),
      };
      if (quota) options.quota = quota;
      if (settings.maxModules !== undefined) options.maxModules = settings.maxModules;
      if (upload.entry) options.entry = upload.entry;
      if (upload.compatibility) options.compatibility = upload.compatibility;
      if (upload.message) options.message = upload.message;
      const publishDeps: Parameters<typeof publish>[0] = { store, logger, observer };
      if (deps.prepare) publishDeps.prepare = deps.prepare;
      if (deps.builder) publishDeps.builder = deps.builder;
      return publish(publishDeps, tenant, upload.files, options);
    });
    wrote(c, revision);
    return c.json(
      { id: manifest.id, hash: manifest.hash, url: deps.tenantUrl(tenant), warnings: manifest.warnings, active },
      201,
    );
  });

  app.get('/v1/tenants/:tenant/deployments', auth, async (c) => {
    const tenant = tenantParam(c);
    const record = await requireTenant(store, tenant);
    return c.json({ active: record.active, deployments: await store.listDeployments(tenant) });
  });

  app.get('/v1/tenants/:tenant/deployments/:id', auth, async (c) => {
    const tenant = tenantParam(c);
    await requireTenant(store, tenant);
    return c.json(await requireDeployment(tenant, c.req.param('id')));
  });

  async function activate(c: Context<AdminEnv>, tenant: string, manifest: DeploymentManifest, previous: string | null) {
    await assertRoutesAllowed(store, tenant, manifest.routes, { baseDomain: deps.baseDomain, operator: isOperator(c) });
    await assertRoutesFree(store, tenant, manifest.routes, { nested: isOperator(c) });
    wrote(c, await store.activate(tenant, manifest.id, { conflicts: routeConflicts({ nested: isOperator(c) }) }));
    logger.info('deployment activated', { tenant, deployment: manifest.id, previous, by: actor(c) });
    return c.json({ id: manifest.id, active: true, previous, url: deps.tenantUrl(tenant) });
  }

  app.post('/v1/tenants/:tenant/deployments/:id/activate', auth, async (c) => {
    const tenant = tenantParam(c);
    const previous = (await requireTenant(store, tenant)).active;
    return activate(c, tenant, await requireDeployment(tenant, c.req.param('id')), previous);
  });

  app.post('/v1/tenants/:tenant/rollback', auth, async (c) => {
    const tenant = tenantParam(c);
    const current = (await requireTenant(store, tenant)).active;
    const body = await readJson(c, true);
    if (body.id !== undefined && typeof body.id !== 'string')
      throw new ApiError('ISLET_ADMIN_BAD_OPTION', "'id' must be a deployment id (a string)");
    if (typeof body.id === 'string') return activate(c, tenant, await requireDeployment(tenant, body.id), current);
    // "previous": the newest deployment created before the active one
    const all = await store.listDeployments(tenant);
    const active = all.find((d) => d.id === current);
    const before = all
      .filter(
        (d) =>
          d.id !== current &&
          (!active || d.createdAt < active.createdAt || (d.createdAt === active.createdAt && d.id < active.id)),
      )
      .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? 1 : -1));
    if (before.length === 0) {
      throw new ApiError(
        'ISLET_ADMIN_NO_PREVIOUS_DEPLOYMENT',
        current
          ? `tenant '${tenant}' has no deployment older than the active one (${current}) to roll back to`
          : `tenant '${tenant}' has no active deployment to roll back from: activate one by id`,
      );
    }
    return activate(c, tenant, before[0]!, current);
  });

  app.get('/v1/tenants/:tenant/deployments/:id/files', auth, async (c) => {
    const tenant = tenantParam(c);
    await requireTenant(store, tenant);
    const manifest = await requireDeployment(tenant, c.req.param('id'));
    const files = await deploymentSources(store, manifest);
    return c.json({
      id: manifest.id,
      files: files.map((f) => ({ path: f.path, kind: f.kind, size: Buffer.byteLength(f.text) })),
    });
  });

  app.get('/v1/tenants/:tenant/deployments/:id/files/:path{.+}', auth, async (c) => {
    const tenant = tenantParam(c);
    await requireTenant(store, tenant);
    const manifest = await requireDeployment(tenant, c.req.param('id'));
    const wanted = c.req.param('path');
    const file = (await deploymentSources(store, manifest)).find((f) => f.path === wanted);
    if (!file) throw new ApiError('ISLET_ADMIN_NOT_FOUND', `deployment '${manifest.id}' has no file '${wanted}'`);
    // tenant text: never rendered as a page of the admin origin
    return c.body(file.text, 200, {
      'content-type': 'text/plain; charset=utf-8',
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'; sandbox",
    });
  });

  app.get('/v1/tenants/:tenant/deployments/:from/diff/:to', auth, async (c) => {
    const tenant = tenantParam(c);
    await requireTenant(store, tenant);
    const [from, to] = await Promise.all([
      requireDeployment(tenant, c.req.param('from')),
      requireDeployment(tenant, c.req.param('to')),
    ]);
    const [before, after] = await Promise.all([deploymentSources(store, from), deploymentSources(store, to)]);
    return c.json({ from: from.id, to: to.id, files: diffSources(before, after) });
  });

  app.delete('/v1/tenants/:tenant/deployments/:id', auth, async (c) => {
    const tenant = tenantParam(c);
    await requireTenant(store, tenant);
    const manifest = await requireDeployment(tenant, c.req.param('id'));
    wrote(c, await store.deleteDeployment(tenant, manifest.id));
    logger.info('deployment deleted', { tenant, deployment: manifest.id, by: actor(c) });
    return c.json({ deleted: manifest.id });
  });

  return app;
}
