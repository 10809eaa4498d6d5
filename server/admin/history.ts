// Admin routes of the operator's views over time and processes:
//   GET /v1/history?range=1h | from=&to= [&step=60] [&tenant=a,b]
//     per-step requests by status class, rate, error rate, p50/p99 latency, CPU, cold starts,
//     limit cuts and memory per tenant and summed (`_all`), from islet's per-minute store or the
//     configured Prometheus server (observe/metrics/history-source.ts). A deploy token sees its
//     own tenant only.
//   GET /v1/workers   the serving processes: pid, uptime, restarts, memory, isolates (operator)
import type { Hono } from 'hono';
import type { WorkersAnswer } from '../cluster/messages';
import { ApiError } from '../errors';
import type { HistorySource } from '../observe/metrics/history-source';
import type { Logger } from '../observe/server-log';
import { type AdminAuth, type AdminEnv, assertOperator, principalOf } from './auth';
import { adminRouter } from './errors';

export interface WorkersSource {
  list(): Promise<WorkersAnswer & { mode: 'single' | 'cluster' }>;
}

export interface HistoryRoutesDeps {
  auth: AdminAuth;
  history?: HistorySource;
  workers?: WorkersSource;
  logger?: Logger;
}

const UNITS: Record<string, number> = { m: 60, h: 3600, d: 86_400 };
/** longest range one answer covers, and most steps in it */
const MAX_RANGE_S = 31 * 86_400;
const MAX_STEPS = 1500;

function seconds(field: string, text: string): number {
  const match = /^(\d+)([mhd])$/.exec(text.trim());
  if (!match)
    throw new ApiError(
      'ISLET_ADMIN_BAD_RANGE',
      `${field}=${JSON.stringify(text)}: expected a duration such as 15m, 6h or 7d`,
    );
  return Number(match[1]) * UNITS[match[2]!]!;
}

function time(field: string, text: string): number {
  const value = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(value))
    throw new ApiError(
      'ISLET_ADMIN_BAD_RANGE',
      `${field}=${JSON.stringify(text)}: expected an ISO time or epoch milliseconds`,
    );
  return value;
}

export function historyRoutes(deps: HistoryRoutesDeps): Hono<AdminEnv> {
  const app = adminRouter(deps.logger);

  app.get('/v1/history', deps.auth, async (c) => {
    if (!deps.history) throw new ApiError('ISLET_ADMIN_HISTORY_UNAVAILABLE', 'this server keeps no history');
    const now = Date.now();
    const rangeText = c.req.query('range');
    const to = c.req.query('to') ? time('to', c.req.query('to')!) : now;
    const from = c.req.query('from')
      ? time('from', c.req.query('from')!)
      : to - seconds('range', rangeText ?? '1h') * 1000;
    if (!(from < to)) throw new ApiError('ISLET_ADMIN_BAD_RANGE', 'from must be before to');
    if (to - from > MAX_RANGE_S * 1000) throw new ApiError('ISLET_ADMIN_BAD_RANGE', 'a range may span at most 31 days');
    const stepText = c.req.query('step');
    let step = stepText === undefined ? Math.max(60, Math.ceil((to - from) / 1000 / 120 / 60) * 60) : Number(stepText);
    if (!Number.isInteger(step) || step < 15)
      throw new ApiError('ISLET_ADMIN_BAD_RANGE', 'step must be a whole number of seconds, at least 15');
    if ((to - from) / 1000 / step > MAX_STEPS) step = Math.ceil((to - from) / 1000 / MAX_STEPS);
    let tenants = c.req.query('tenant')?.split(',').filter(Boolean);
    const principal = principalOf(c);
    if (principal?.kind === 'tenant') {
      if (tenants?.some((t) => t !== principal.tenant))
        throw new ApiError(
          'ISLET_ADMIN_FORBIDDEN',
          `this token belongs to tenant '${principal.tenant}' and cannot read others' history`,
        );
      tenants = [principal.tenant];
    }
    const query = { from, to, stepSeconds: step, ...(tenants ? { tenants } : {}) };
    try {
      return c.json(await deps.history.query(query));
    } catch (error) {
      throw new ApiError('ISLET_ADMIN_HISTORY_UNAVAILABLE', `could not read the history: ${(error as Error).message}`, {
        cause: error,
      });
    }
  });

  app.get('/v1/workers', deps.auth, async (c) => {
    assertOperator(c, 'listing the serving processes');
    if (!deps.workers) throw new ApiError('ISLET_ADMIN_NOT_FOUND', 'this server does not report its processes');
    const answer = await deps.workers.list();
    const now = Date.now();
    return c.json({
      mode: answer.mode,
      supervisor: { pid: answer.supervisor.pid, uptimeS: (now - answer.supervisor.startedAt) / 1000 },
      restarts: answer.restarts,
      crashLoops: answer.crashLoops,
      workers: answer.workers.map((w) => ({
        slot: w.slot,
        pid: w.pid,
        state: w.state,
        startedAt: w.startedAt === null ? null : new Date(w.startedAt).toISOString(),
        uptimeS: w.startedAt === null ? null : (now - w.startedAt) / 1000,
        restarts: w.restarts,
        rssBytes: w.stats?.rssBytes ?? null,
        heapUsedBytes: w.stats?.heapUsedBytes ?? null,
        isolates: w.stats?.isolates ?? null,
        connections: w.stats?.connections ?? w.connections,
      })),
    });
  });
  return app;
}
