// `GET /metrics`, the Prometheus text exposition (observe/metrics/), in its two places: on the
// admin API behind the operator token (it names every tenant, so a deploy token is refused),
// and on the optional separate metrics port without a token, for a Prometheus that should not
// hold the admin token. That port binds 127.0.0.1 unless told otherwise. Both answer a scrape
// that cannot be gathered (the supervisor did not answer, ...) with 503 METRICS_UNAVAILABLE.
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { ApiError } from '../errors';
import type { Logger } from '../observe/server-log';
import type { MetricsSource, Scrape } from '../observe/metrics/metrics';
import { assertOperator, principalOf, type AdminAuth, type AdminEnv } from './auth';
import { adminRouter, errorBody, wireCode } from './errors';

export interface MetricsRoutesOptions {
  /** an auth middleware that accepts scrape tokens (allowScrape) as well as the operator's */
  auth: AdminAuth;
  logger?: Logger;
}

function scrapeHandler(source: MetricsSource) {
  return async (c: Context): Promise<Response> => {
    let scrape: Scrape;
    try {
      scrape = await source.scrape();
    } catch (error) {
      throw new ApiError(
        'ISLET_ADMIN_METRICS_UNAVAILABLE',
        `could not gather metrics: ${(error as Error).message ?? String(error)}`,
        { cause: error },
      );
    }
    return c.body(scrape.body, 200, { 'content-type': scrape.contentType, 'cache-control': 'no-store' });
  };
}

/** `GET /metrics` on the admin API: the operator token or a scrape token (config `scrapeTokens`). */
export function metricsRoutes(source: MetricsSource, options: MetricsRoutesOptions): Hono<AdminEnv> {
  const app = adminRouter(options.logger);
  const readers: MiddlewareHandler<AdminEnv> = async (c, next) => {
    if (principalOf(c)?.kind !== 'scrape') assertOperator(c, "reading every tenant's metrics");
    return next();
  };
  app.get('/metrics', options.auth, readers, scrapeHandler(source));
  return app;
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** The separate metrics port: `GET /metrics` without authentication, nothing else. */
export function startMetricsServer(
  source: MetricsSource,
  options: { port?: number; host?: string; logger?: Logger } = {},
): Promise<MetricsServer> {
  const app = adminRouter(options.logger);
  app.get('/metrics', scrapeHandler(source));
  app.notFound((c) =>
    c.json(
      errorBody(
        wireCode('ISLET_ADMIN_NOT_FOUND'),
        `no route ${c.req.method} ${c.req.path}: this port serves only GET /metrics`,
      ),
      404,
    ),
  );
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 9091;
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port, hostname: host }, (info: AddressInfo) => {
      server.off('error', reject);
      resolve({
        port: info.port,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
    server.once('error', (error) =>
      reject(new Error(`metrics: cannot listen on ${host}:${port}: ${(error as Error).message}`)),
    );
  });
}
