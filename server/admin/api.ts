// The admin HTTP API (admin port), composed from its route files: tenants, deployments, env,
// deploy tokens, tenant logs and /metrics, plus GET /healthz and the operator dashboard. JSON in
// and out; errors as {"error": {"code", "message"}} (errors.ts); every route but /healthz and
// the dashboard's static page behind one bearer-token middleware (auth.ts), which each route
// names first. A new group of admin routes is one more file like tenants.ts, mounted here.
import type { Hono } from 'hono';
import { createDashboard } from './dashboard';
import type { Config, DeploySettings } from '../config';
import type { Builder } from '../deploy/build-pool';
import type { UploadLimits } from '../deploy/limits';
import { defaultUploadLimits } from '../deploy/limits';
import type { PrepareHook } from '../deploy/publish';
import type { MetricsSource } from '../observe/metrics/metrics';
import type { Logger } from '../observe/server-log';
import type { LogHub } from '../observe/tenant-logs/hub';
import type { DeploymentStore } from '../store/types';
import type { QuarantinedTenants } from '../tenants/quarantined';
import { nullObserver, type TenantObserver } from '../tenants/observer';
import { authMiddleware, type AdminEnv } from './auth';
import { readYourWrites, type WriteSync } from './consistency';
import { deploymentRoutes } from './deployments';
import { envRoutes } from './env';
import { hostnameRoutes } from './hostnames';
import { historyRoutes, type WorkersSource } from './history';
import type { HistorySource } from '../observe/metrics/history-source';
import { adminRouter, answerNotFound } from './errors';
import { logRoutes } from './logs';
import { metricsRoutes } from './metrics';
import { tenantRoutes } from './tenants';
import { tokenRoutes } from './tokens';
import { bindingRoutes } from './bindings';
import { kvRoutes } from './kv';
import { profileRoutes } from './profiles';
import type { ProfileSource } from '../observe/profiles/tenant-profiler';
import type { KvBackend } from '../bindings/kv/backend';
import type { CronRunner } from '../bindings/cron/runner';
import type { Limits } from '../config';

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
  /** build gate shares, the module bound and storage quotas (config `deploy`) */
  deploy?: Partial<DeploySettings>;
  /** where builds run (deploy/build-pool.ts); default: in this process */
  builder?: Builder;
  /** how tenants prove custom hostnames (config `hostnames`); default: the operator assigns them */
  hostnames?: Config['hostnames'];
  /** the egress policy the HTTP ownership check goes out under (config `egress`) */
  egress?: Config['egress'];
  /** tests: the TXT records of a name, for the DNS ownership check */
  resolveTxt?: (name: string, timeoutMs: number) => Promise<string[][]>;
  /** tenant logs: serves GET /v1/tenants/:tenant/logs */
  logs?: LogHub;
  /** serves GET /metrics (operator only) */
  metrics?: MetricsSource;
  /** serves the operator dashboard at / */
  dashboard?: boolean;
  /** read-your-writes: a write is answered once every serving process of the node serves it */
  writeSync?: WriteSync;
  /** tenants refused now because their code made worker processes die (shown under GET /v1/tenants/{t}) */
  quarantined?: QuarantinedTenants;
  /** ends a tenant's quarantine (DELETE /v1/tenants/{t}/quarantine); resolves false when it was not quarantined */
  liftQuarantine?: (tenant: string) => Promise<boolean>;
  /** the node's KV data (serves /v1/tenants/:tenant/kv...) and each tenant's limits for its quota */
  kv?: { backend: KvBackend | null; limitsOf(tenant: string, recordLimits?: Record<string, number>): Limits };
  /** runs scheduled handlers by hand (POST /v1/tenants/:tenant/scheduled) */
  cron?: CronRunner;
  /** read-only tokens for GET /metrics (config `scrapeTokens`) */
  scrapeTokens?: readonly string[];
  /** serves GET /v1/history */
  history?: HistorySource;
  /** serves GET /v1/workers */
  workers?: WorkersSource;
  /** lines a log follower lost (counted into the metrics) */
  onLogLinesDropped?: (count: number) => void;
  /** serves POST /v1/tenants/:tenant/profile (CPU profiles; absent: this process serves no tenants) */
  profiles?: { source: ProfileSource; maxSeconds: number; samplingIntervalUs: number };
}

export function createAdminApi(deps: AdminApiDeps): Hono<AdminEnv> {
  const { store, logger } = deps;
  const tenantUrl =
    deps.tenantUrl ??
    ((t: string) => `http://${t}.${deps.baseDomain}${deps.tenantPort === 80 ? '' : `:${deps.tenantPort}`}/`);
  const limitNames = deps.limitNames ?? (deps.config?.limits ? Object.keys(deps.config.limits) : undefined);
  // one middleware, so one failure budget per client address whichever route it guesses at
  const scrapeTokens = deps.scrapeTokens ?? [];
  const auth = authMiddleware(store, deps.operatorToken, { scrapeTokens });

  const app = adminRouter(logger);
  app.notFound(answerNotFound);
  // before every route: a route that wrote answers once every serving process serves the write
  if (deps.writeSync) app.use('*', readYourWrites(deps.writeSync, logger));
  // A degraded store (PostgreSQL unreachable) keeps the node ready: it serves what it has. The
  // answer says so without the reason (which names the database host): the log has it.
  app.get('/healthz', async (c) => {
    const health = await store.health();
    return c.json(health.state === 'ok' ? { ok: true } : { ok: true, degraded: ['store'] });
  });
  app.route(
    '/',
    tenantRoutes({
      store,
      logger,
      auth,
      tenantUrl,
      limitNames,
      quarantined: deps.quarantined,
      liftQuarantine: deps.liftQuarantine,
    }),
  );
  app.route(
    '/',
    deploymentRoutes({
      store,
      logger,
      auth,
      tenantUrl,
      observer: deps.observer ?? nullObserver,
      limits: { ...defaultUploadLimits, ...deps.limits },
      prepare: deps.prepare,
      deployConcurrency: deps.deployConcurrency,
      deployQueue: deps.deployQueue,
      deploy: deps.deploy,
      builder: deps.builder,
      baseDomain: deps.baseDomain,
    }),
  );
  const hostnames = deps.hostnames ?? { verification: 'none', httpPort: 80, checkTimeoutMs: 5000 };
  app.route(
    '/',
    hostnameRoutes({
      store,
      logger,
      auth,
      baseDomain: deps.baseDomain,
      proof: { ...hostnames, egress: deps.egress ?? { allow: [] } },
      resolveTxt: deps.resolveTxt,
    }),
  );
  app.route('/', envRoutes({ store, logger, auth }));
  app.route('/', tokenRoutes({ store, logger, auth }));
  app.route('/', bindingRoutes({ store, logger, auth, cron: deps.cron }));
  if (deps.kv) app.route('/', kvRoutes({ store, logger, auth, kv: deps.kv.backend, limitsOf: deps.kv.limitsOf }));
  if (deps.logs) {
    const tenantExists = async (tenant: string) => (await store.getTenant(tenant)) !== null;
    app.route('/', logRoutes(deps.logs, { auth, tenantExists, logger, onDropped: deps.onLogLinesDropped }));
  }
  if (deps.metrics) {
    const metricsAuth = authMiddleware(store, deps.operatorToken, { scrapeTokens, allowScrape: true });
    app.route('/', metricsRoutes(deps.metrics, { auth: metricsAuth, logger }));
  }
  if (deps.profiles)
    app.route('/', profileRoutes({ store, logger, auth, ...deps.profiles, profiles: deps.profiles.source }));
  app.route('/', historyRoutes({ auth, logger, history: deps.history, workers: deps.workers }));
  // a /v1 path no route serves still needs a token: without one, probing learns nothing
  app.all('/v1/*', auth, (c) => answerNotFound(c));
  // a static page and its files, holding no data: it calls the routes above with the operator's token
  if (deps.dashboard) app.route('/', createDashboard());
  return app;
}
