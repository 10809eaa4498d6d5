// Admin route of tenant logs (the hub is observe/tenant-logs/hub.ts, filters query.ts):
//   GET /v1/tenants/:tenant/logs?limit=N&level=&status=&method=&q=&since=&until=&follow=1
// the newest N matching lines as NDJSON (oldest first), then (follow) every new matching line as
// it is written, until the client goes away. A deploy token reads its own tenant only.
//
// Followers are bounded, because a client that never reads must not make the server hold lines
// for it: each follower queues at most `followBacklogBytes` (default 1 MiB) of lines; past that,
// lines are dropped and one `{"msg":"lines dropped"...}` notice says how many once it reads
// again. One token may hold at most `followersPerToken` (default 8) open streams per process,
// and a process at most `maxFollowers` (default 256): beyond, 429 TOO_MANY_FOLLOWERS.
import type { Context, Hono } from 'hono';
import { ApiError } from '../errors';
import type { Logger } from '../observe/server-log';
import { LogHub } from '../observe/tenant-logs/hub';
import { FollowFilter, LogFilterError, type LogQueryParams, parseLogQuery } from '../observe/tenant-logs/query';
import { type AdminAuth, type AdminEnv, actor, requireTenantAccess } from './auth';
import { adminRouter } from './errors';

export interface LogRoutesOptions {
  /** the admin API's auth middleware: operator token, or a deploy token of the tenant in `:tenant` */
  auth: AdminAuth;
  /** answers 404 for tenants that do not exist (otherwise an unknown tenant has no lines) */
  tenantExists?(tenant: string): Promise<boolean>;
  /** bytes of lines a follower may fall behind before lines are dropped for it; default 1 MiB */
  followBacklogBytes?: number;
  /** open follow streams one token may hold in this process; default 8 */
  followersPerToken?: number;
  /** open follow streams in this process; default 256 */
  maxFollowers?: number;
  /** told how many lines a follower lost (islet_log_lines_dropped_total{reason="follower"}) */
  onDropped?: (count: number) => void;
  logger?: Logger;
}

const DEFAULT_LIMIT = 100;
const QUERY_KEYS = ['limit', 'level', 'status', 'method', 'q', 'since', 'until'] as const;

function queryOf(c: Context): LogQueryParams {
  const params: LogQueryParams = {};
  for (const key of QUERY_KEYS) {
    const value = c.req.query(key);
    if (value !== undefined && value !== '') params[key] = value;
  }
  return params;
}

export function logRoutes(hub: LogHub, options: LogRoutesOptions): Hono<AdminEnv> {
  const app = adminRouter(options.logger);
  const backlogBytes = options.followBacklogBytes ?? 1 << 20;
  const perToken = options.followersPerToken ?? 8;
  const maxFollowers = options.maxFollowers ?? 256;
  const open = new Map<string, number>();
  let openTotal = 0;

  app.get('/v1/tenants/:tenant/logs', options.auth, requireTenantAccess, async (c) => {
    const tenant = c.req.param('tenant');
    const params = queryOf(c);
    let query: ReturnType<typeof parseLogQuery>;
    try {
      query = parseLogQuery(params, { maxLimit: LogHub.maxAnswerLines, defaultLimit: DEFAULT_LIMIT });
    } catch (error) {
      if (!(error instanceof LogFilterError)) throw error;
      const code = error.field === 'limit' ? 'ISLET_ADMIN_BAD_LOG_LIMIT' : 'ISLET_ADMIN_BAD_LOG_FILTER';
      throw new ApiError(code, error.message);
    }
    if (options.tenantExists && !(await options.tenantExists(tenant))) {
      throw new ApiError('ISLET_ADMIN_TENANT_NOT_FOUND', `tenant '${tenant}' does not exist`);
    }
    const follow = ['1', 'true', 'yes'].includes(c.req.query('follow') ?? '');
    const headers = { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' };
    if (!follow) {
      const lines = await hub.recentAll(tenant, { ...params, limit: String(query.limit) });
      return new Response(lines.map((line) => `${line}\n`).join(''), { headers });
    }

    const who = actor(c);
    if ((open.get(who) ?? 0) >= perToken || openTotal >= maxFollowers) {
      c.header('Retry-After', '5');
      throw new ApiError(
        'ISLET_ADMIN_TOO_MANY_FOLLOWERS',
        openTotal >= maxFollowers
          ? `this server already streams ${maxFollowers} followed logs: close one and retry`
          : `this token already holds ${perToken} open follow streams: close one and retry`,
      );
    }
    open.set(who, (open.get(who) ?? 0) + 1);
    openTotal++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      openTotal--;
      const left = (open.get(who) ?? 1) - 1;
      if (left > 0) open.set(who, left);
      else open.delete(who);
    };

    const recent = query.limit === 0 ? [] : await hub.recentAll(tenant, { ...params, limit: String(query.limit) });
    const encoder = new TextEncoder();
    const filter = new FollowFilter({ ...query, since: undefined, until: undefined });
    let unsubscribe = (): void => {};
    const body = new ReadableStream<Uint8Array>(
      {
        start(controller) {
          for (const line of recent) controller.enqueue(encoder.encode(`${line}\n`));
          let dropped = 0;
          const send = (text: string): boolean => {
            const chunk = encoder.encode(text);
            if (chunk.byteLength > (controller.desiredSize ?? 0)) return false;
            controller.enqueue(chunk);
            return true;
          };
          unsubscribe = hub.follow(
            tenant,
            (line) => {
              for (const out of filter.push(line)) {
                if (dropped > 0) {
                  const notice = {
                    time: new Date().toISOString(),
                    level: 'warn',
                    msg: 'lines dropped',
                    tenant,
                    dropped,
                  };
                  if (!send(`${JSON.stringify(notice)}\n`)) {
                    dropped++;
                    continue;
                  }
                  dropped = 0;
                }
                // a line bigger than what is free is dropped (counted), never queued past the bound
                if (!send(`${out}\n`)) {
                  dropped++;
                  options.onDropped?.(1);
                }
              }
            },
            () => {
              release();
              try {
                controller.close();
              } catch {
                // already closed by its client
              }
            },
          );
        },
        cancel() {
          release();
          unsubscribe();
        },
      },
      // the recent lines always fit; what follows is bounded by bytes
      new ByteLengthQueuingStrategy({ highWaterMark: backlogBytes }),
    );
    return new Response(body, { headers });
  });
  return app;
}
