// Admin route of tenant logs (the hub is observe/tenant-logs/hub.ts):
//   GET /v1/tenants/:tenant/logs?limit=N&follow=1
// the last N lines as NDJSON, then (follow) every new line as it is written, until the client
// goes away. A client that reads slower than the tenant logs does not make the server buffer
// without bound: past `followBacklog` queued lines, lines are dropped and one
// `{"msg":"lines dropped"...}` notice says how many. A deploy token reads its own tenant only.
import type { Hono } from 'hono';
import { ApiError } from '../errors';
import type { Logger } from '../observe/server-log';
import { countDropped } from '../observe/log-drops';
import type { LogHub } from '../observe/tenant-logs/hub';
import { requireTenantAccess, type AdminAuth, type AdminEnv } from './auth';
import { adminRouter } from './errors';

export interface LogRoutesOptions {
  /** the admin API's auth middleware: operator token, or a deploy token of the tenant in `:tenant` */
  auth: AdminAuth;
  /** answers 404 for tenants that do not exist (otherwise an unknown tenant has no lines) */
  tenantExists?(tenant: string): Promise<boolean>;
  /** lines a follower may fall behind before lines are dropped for it; default 1000 */
  followBacklog?: number;
  logger?: Logger;
}

const DEFAULT_LIMIT = 100;

export function logRoutes(hub: LogHub, options: LogRoutesOptions): Hono<AdminEnv> {
  const app = adminRouter(options.logger);
  const backlog = options.followBacklog ?? 1000;
  app.get('/v1/tenants/:tenant/logs', options.auth, requireTenantAccess, async (c) => {
    const tenant = c.req.param('tenant');
    const limitText = c.req.query('limit');
    const limit = limitText === undefined ? DEFAULT_LIMIT : Number(limitText);
    if (!Number.isInteger(limit) || limit < 0 || limit > hub.linesPerTenant) {
      throw new ApiError(
        'ISLET_ADMIN_BAD_LOG_LIMIT',
        `query parameter limit=${JSON.stringify(limitText)} must be an integer from 0 to ${hub.linesPerTenant}`,
      );
    }
    if (options.tenantExists && !(await options.tenantExists(tenant))) {
      throw new ApiError('ISLET_ADMIN_TENANT_NOT_FOUND', `tenant '${tenant}' does not exist`);
    }
    const follow = ['1', 'true', 'yes'].includes(c.req.query('follow') ?? '');
    const headers = { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' };
    const recent = limit === 0 ? [] : await hub.recentAll(tenant, limit);
    if (!follow) return new Response(recent.map((line) => line + '\n').join(''), { headers });

    const encoder = new TextEncoder();
    let unsubscribe = (): void => {};
    const body = new ReadableStream<Uint8Array>(
      {
        start(controller) {
          for (const line of recent) controller.enqueue(encoder.encode(line + '\n'));
          let dropped = 0;
          unsubscribe = hub.follow(
            tenant,
            (line) => {
              if ((controller.desiredSize ?? 0) <= 0) {
                dropped++;
                countDropped('follower_slow');
                return;
              }
              if (dropped > 0) {
                const notice = { time: new Date().toISOString(), level: 'warn', msg: 'lines dropped', tenant, dropped };
                controller.enqueue(encoder.encode(JSON.stringify(notice) + '\n'));
                dropped = 0;
              }
              // throws once the stream is closed; the hub then drops this follower
              controller.enqueue(encoder.encode(line + '\n'));
            },
            () => controller.close(),
          );
        },
        cancel() {
          unsubscribe();
        },
      },
      new CountQueuingStrategy({ highWaterMark: Math.max(backlog, recent.length + 1) }),
    );
    return new Response(body, { headers });
  });
  return app;
}
