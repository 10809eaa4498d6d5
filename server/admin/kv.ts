// Admin routes of a tenant's KV namespaces (what `islet kv` calls), shaped like Cloudflare's KV API:
//   GET    /v1/tenants/:tenant/kv                              usage, quota, the namespaces bound now
//   GET    /v1/tenants/:tenant/kv/:ns/keys?prefix=&limit=&cursor=
//   GET    /v1/tenants/:tenant/kv/:ns/values/:key              the value's bytes (404: no such key);
//                                                              islet-kv-metadata / islet-kv-expiration headers
//   PUT    /v1/tenants/:tenant/kv/:ns/values/:key?expiration_ttl=&expiration=&metadata=<json>   body: the value
//   DELETE /v1/tenants/:tenant/kv/:ns/values/:key
// `:ns` is a namespace id of the tenant (namespaces are the tenant's own: the same id of another
// tenant is another namespace). The same limits apply as to a function's calls, the tenant's
// quota included, with the same messages.
import type { Context, Hono } from 'hono';
import type { Limits } from '../config';
import type { KvBackend, KvNamespaceRef } from '../bindings/kv/backend';
import { KvQuotaError } from '../bindings/kv/backend';
import {
  KvRefusal,
  checkCursor,
  checkExpiration,
  checkKey,
  checkListOptions,
  checkMetadata,
  checkValue,
  MAX_VALUE_BYTES,
} from '../bindings/kv/validate';
import { resolveBindings } from '../bindings/resolve';
import { readBody } from '../deploy/upload';
import { ApiError } from '../errors';
import type { Logger } from '../observe/server-log';
import type { DeploymentStore } from '../store/types';
import { actor, type AdminAuth, type AdminEnv } from './auth';
import { adminRouter } from './errors';
import { tenantParam } from './request';
import { requireTenant } from './tenants';

export interface KvRoutesDeps {
  store: DeploymentStore;
  logger: Logger;
  auth: AdminAuth;
  /** null: this node keeps no KV data */
  kv: KvBackend | null;
  /** the tenant's limits (its KV quota) */
  limitsOf(tenant: string, recordLimits?: Record<string, number>): Limits;
}

const namespacePattern = /^[A-Za-z0-9_-]{1,64}$/;

/** runs a KV call, turning its refusals into the admin API's errors */
async function kvCall<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof KvRefusal) throw new ApiError('ISLET_ADMIN_BAD_KV', error.message);
    if (error instanceof KvQuotaError) throw new ApiError('ISLET_ADMIN_KV_QUOTA', error.message);
    throw error;
  }
}

export function kvRoutes(deps: KvRoutesDeps): Hono<AdminEnv> {
  const { store, logger, auth } = deps;
  const app = adminRouter(logger);

  const backend = (): KvBackend => {
    if (!deps.kv) throw new ApiError('ISLET_ADMIN_UNAVAILABLE', 'this node keeps no KV data');
    return deps.kv;
  };
  const namespace = async (c: Context<AdminEnv>): Promise<KvNamespaceRef> => {
    const tenant = tenantParam(c);
    await requireTenant(store, tenant);
    const ns = c.req.param('ns')!;
    if (!namespacePattern.test(ns)) {
      throw new ApiError('ISLET_ADMIN_BAD_KV', `invalid namespace id '${ns}': use 1-64 of A-Z a-z 0-9 _ -`);
    }
    return { tenant, namespace: ns };
  };

  app.get('/v1/tenants/:tenant/kv', auth, async (c) => {
    const tenant = tenantParam(c);
    const record = await requireTenant(store, tenant);
    const manifest = record.active ? await store.getDeployment(tenant, record.active) : null;
    const limits = deps.limitsOf(tenant, record.limits);
    return c.json({
      usage: await backend().usage(tenant),
      quota: { bytes: limits.kvBytes ?? 0, keys: limits.kvKeys ?? 0 },
      bound: resolveBindings(record.bindings, manifest?.bindings).kv,
    });
  });

  app.get('/v1/tenants/:tenant/kv/:ns/keys', auth, async (c) => {
    const ns = await namespace(c);
    const page = await kvCall(async () => {
      const options = {
        ...checkListOptions(c.req.query('prefix'), c.req.query('limit')),
        cursor: checkCursor(c.req.query('cursor')),
      };
      return backend().list(ns, options);
    });
    return c.json({ keys: page.keys, list_complete: page.cursor === null, cursor: page.cursor });
  });

  app.get('/v1/tenants/:tenant/kv/:ns/values/:key{.+}', auth, async (c) => {
    const ns = await namespace(c);
    const key = c.req.param('key');
    const entry = await kvCall(async () => backend().get(ns, checkKey('GET', key)));
    if (!entry) throw new ApiError('ISLET_ADMIN_NOT_FOUND', `namespace '${ns.namespace}' has no key '${key}'`);
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (entry.metadata !== null) headers['islet-kv-metadata'] = entry.metadata;
    if (entry.expiration !== null) headers['islet-kv-expiration'] = String(entry.expiration);
    return c.body(new Uint8Array(entry.value), 200, headers);
  });

  app.put('/v1/tenants/:tenant/kv/:ns/values/:key{.+}', auth, async (c) => {
    const ns = await namespace(c);
    const record = (await store.getTenant(ns.tenant))!;
    const key = c.req.param('key');
    const body = await readBody(c, MAX_VALUE_BYTES + 1);
    const limits = deps.limitsOf(ns.tenant, record.limits);
    await kvCall(async () => {
      const metadataParam = c.req.query('metadata');
      if (metadataParam !== undefined) {
        try {
          JSON.parse(metadataParam);
        } catch {
          throw new KvRefusal(['TypeError', 'metadata: expected JSON']);
        }
      }
      const entry = {
        value: checkValue(new Uint8Array(body.buffer, body.byteOffset, body.byteLength)),
        expiration: checkExpiration(c.req.query('expiration'), c.req.query('expiration_ttl')),
        metadata: checkMetadata(metadataParam),
      };
      await backend().put(ns, checkKey('PUT', key), entry, { bytes: limits.kvBytes ?? 0, keys: limits.kvKeys ?? 0 });
    });
    logger.info('kv value written', { tenant: ns.tenant, namespace: ns.namespace, bytes: body.length, by: actor(c) });
    return c.json({ written: key, bytes: body.length });
  });

  app.delete('/v1/tenants/:tenant/kv/:ns/values/:key{.+}', auth, async (c) => {
    const ns = await namespace(c);
    const key = c.req.param('key');
    await kvCall(async () => backend().delete(ns, checkKey('DELETE', key)));
    logger.info('kv value deleted', { tenant: ns.tenant, namespace: ns.namespace, by: actor(c) });
    return c.json({ deleted: key });
  });

  return app;
}
