// `islet serve`: the tenant server on ISLET_PORT and the admin app on ISLET_ADMIN_PORT, composed
// from the rooms: config, store, router + tenant directory + isolate pool (serving), the deploy
// API, metrics and the log hub (observability). `--functions <dir>` publishes each subfolder as
// the tenant of that name first, so `npm start` serves functions/ with no other setup.
// SIGTERM/SIGINT: stop accepting, let in-flight requests finish (bounded), dispose isolates, exit 0.
// ISLET_WORKERS > 0 runs that in worker processes under a supervisor (serve-supervisor.ts).
import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { serve as serveHono } from '@hono/node-server';
import { checkSharedStore, loadConfig, limitSettings, resolveLimits, type Config } from '../config';
import { CliError } from '../errors';
import { configureStdout, Logger } from '../observe/server-log';
import { openConfiguredStore, storeKind } from '../store/open';
import type { DeploymentStore } from '../store/types';
import { TenantRouter } from '../front/router';
import { CfPolicy } from '../front/cf/policy';
import { FrontServer } from '../front/server';
import { TenantDirectory } from '../tenants/directory';
import { StoreFollower } from '../tenants/store-follower';
import { IsolatePool } from '../tenants/pool';
import { Accounting } from '../tenants/accounting';
import { TenantWebSockets } from '../tenants/web-sockets';
import { registerWebSocketMetrics } from '../observe/metrics/websocket-metrics';
import { prepareDeployment } from '../tenants/prepare';
import type { CreateSandbox } from '../tenants/sandbox-api';
import type { TenantObserver } from '../tenants/observer';
import { BuildPool } from '../deploy/build-pool';
import { createAdminApi } from '../admin/api';
import { loadOperatorToken } from '../admin/auth';
import { startMetricsServer, type MetricsServer } from '../admin/metrics';
import { Metrics } from '../observe/metrics/metrics';
import { LogHub } from '../observe/tenant-logs/hub';
import { SourceMapper } from '../observe/tenant-logs/source-maps';
import { openTracing } from '../observe/tracing/open';
import { version } from '../main';
import { LocalProfiles, WorkerProfiles } from '../observe/profiles/tenant-profiler';
import { joinSupervisor } from '../cluster/supervised-worker';
import { machineStalls } from '../host/isolate-api';
import { QuarantinedTenants } from '../tenants/quarantined';
import type { ProcessStats } from '../cluster/messages';
import { workerChannel } from '../cluster/worker-channel';
import { HistoryStore } from '../observe/metrics/history';
import {
  clusterHistory,
  type HistorySource,
  localHistory,
  prometheusHistory,
  startRecorder,
} from '../observe/metrics/history-source';
import type { WorkersSource } from '../admin/history';
import { watchMachineStalls } from '../tenants/stalls';
import { BindingHost } from '../bindings/host';
import type { SlotClaims } from '../bindings/cron/claims';
import { openSlotClaims } from '../bindings/cron/open-claims';
import { CronRunner } from '../bindings/cron/runner';
import { CronScheduler } from '../bindings/cron/scheduler';
import { OriginPassThrough } from '../bindings/pass-through';
import { ServiceDispatcher } from '../bindings/service/dispatcher';
import { bindingMetrics } from '../observe/metrics/binding-metrics';
import { ThisNode } from '../nodes/node';
import { nodeId } from '../nodes/identity';
import { acrossNodes } from '../nodes/write-sync';
import { onShutdown, publishFunctions } from './serve-lifecycle';
import { supervise } from './serve-supervisor';
import { fanoutTimeoutMs, joinContainment, joinStoreFanout, localWriteSync } from './serve-worker';

export interface ServeOptions {
  config: Config;
  /** publish each subfolder of this directory as a tenant before serving */
  functionsDir?: string;
  logger?: Logger;
  /** tests: a sandbox factory other than server/host's */
  createSandbox?: CreateSandbox;
  /** a node:cluster worker under the supervisor: metrics are summed by the primary, which serves the metrics port */
  worker?: boolean;
  /**
   * false: do not listen on the tenant port; connections arrive by
   * `tenantServer.emit('connection', socket)` (a supervisor that routes sockets)
   */
  listenTenant?: boolean;
  /** islet dev --inspect: tenant isolates get a V8 inspector (DevTools); never for islet serve */
  inspector?: boolean;
}

export interface Serving {
  config: Config;
  store: DeploymentStore;
  pool: IsolatePool;
  /** which deployment each tenant is served from (islet dev waits on it after a rebuild) */
  directory: TenantDirectory;
  metrics: Metrics;
  logs: LogHub;
  logger: Logger;
  operatorToken: string;
  /** KV, the Cache API's storage and service bindings of this process */
  bindings: BindingHost;
  /** runs scheduled handlers (cron triggers, the admin API's manual trigger) */
  cron: CronRunner;
  /** the cron schedule, when this process is the node's scheduler */
  scheduler: CronScheduler | null;
  /** the tenant traffic server (node:http), e.g. for a supervisor handing connections over */
  tenantServer: import('node:http').Server;
  /** the configured port when listenTenant was false (the supervisor passes the port it bound) */
  tenantPort: number;
  adminPort: number;
  /**
   * graceful: stop accepting, drain (bounded by server.shutdownTimeoutMs), close WebSockets
   * (1001, or 1012 for a worker `restart`), dispose isolates
   */
  close(options?: { restart?: boolean }): Promise<void>;
}

/** how long closing WebSockets waits for their close handshakes at shutdown */
const WEBSOCKET_CLOSE_MS = 2000;

const usageText = `usage: islet serve [--config <file>] [--functions <dir>]

Serves tenant functions on ISLET_PORT (default 8080) and the admin API on ISLET_ADMIN_PORT
(default 127.0.0.1:8081). Settings: config/default.json, --config <file>, ISLET_* variables
(config/README.md lists every one).

  --config <file>     JSON file overriding config/default.json
  --functions <dir>   publish each subfolder of <dir> as the tenant of that name first`;

export const usage: Record<string, string> = { serve: usageText };

function argValue(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  if (at !== -1) return args[at + 1];
  return args.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
}

/** Starts everything; resolves once both ports listen and functions/ is published. */
export async function startServing(options: ServeOptions): Promise<Serving> {
  const { config } = options;
  const logger = options.logger ?? new Logger(config.logLevel);
  const store = await openConfiguredStore(config, (message, fields) => logger.warn(message, fields));
  const metrics = new Metrics();
  metrics.setStallSource(machineStalls);
  const stopStallWatch = watchMachineStalls(logger);
  // limit and error stacks in tenant logs point at the tenant's own files (source maps of the deployment)
  const sourceMaps = new SourceMapper(store);
  const logs = new LogHub(logger, {
    sourceMaps,
    bytesPerTenant: config.logs.tenantBytes,
    maxTotalBytes: config.logs.totalBytes,
  });
  // under the supervisor: one scrape sums every worker, and tenant logs read the same from any worker
  const leaveCluster = options.worker ? [metrics.joinCluster(), logs.joinCluster()] : [];
  const observer: TenantObserver = metrics;
  const router = new TenantRouter(config.baseDomain);
  const directory = new TenantDirectory({ store, config, router, logger });
  const webSockets = new TenantWebSockets();
  registerWebSocketMetrics(metrics, () => webSockets.totals());
  const bindings = BindingHost.open(config, bindingMetrics(metrics));
  const pool = new IsolatePool({
    config,
    store,
    observer,
    logger,
    logs,
    createSandbox: options.createSandbox,
    bindings,
    webSockets,
    inspector: options.inspector,
  });
  // CPU profiles: under the supervisor the tenant's isolates may be in any worker, so it asks them all
  const workerProfiles = options.worker ? new WorkerProfiles(pool, sourceMaps) : null;
  if (workerProfiles) leaveCluster.push(() => workerProfiles.close());
  const profiles = workerProfiles ?? new LocalProfiles(pool, sourceMaps);
  // traces: off unless configured (the OpenTelemetry SDK is not even loaded then)
  const tracing = openTracing(config, {
    version: version(),
    onDropped: (reason, n) => metrics.spansDropped(reason, n),
  });
  const accounting = new Accounting({
    observer,
    logs,
    logRequests: config.logRequests,
    textBounds: config.exceptions,
  });
  // under the supervisor: whom to refuse (it decides) and the in-flight journal it reads if this worker dies
  const quarantined = new QuarantinedTenants();
  const tracker = options.worker ? joinContainment(quarantined, logger) : undefined;
  bindings.services = new ServiceDispatcher({ directory, pool, accounting });
  const passThrough = new OriginPassThrough(config.egress, config.limits.subrequestTimeoutMs);
  const cf = await CfPolicy.open(config);
  if (cf.headersWithoutProxies) {
    logger.warn('cf.headers or cf.blobHeader is set but trustedProxies is empty: no peer may set request.cf', {});
  }
  const front = new FrontServer({
    config,
    router,
    directory,
    pool,
    accounting,
    logger,
    passThrough,
    observer,
    tracker,
    quarantined,
    cf,
    webSockets,
    tracing,
  });
  const cron = new CronRunner({ directory, pool, logs, observer, bindings: bindings.observer, tracing });
  const processStats = (): ProcessStats => ({
    pid: process.pid,
    startedAt: Math.round(Date.now() - process.uptime() * 1000),
    rssBytes: process.memoryUsage.rss(),
    heapUsedBytes: process.memoryUsage().heapUsed,
    isolates: pool.size,
    connections: front.inFlight,
  });
  // the dashboard's history: a Prometheus server when configured, else islet's own store, kept
  // here in one process and in the supervisor under it (which samples every worker)
  let history: HistorySource;
  let stopRecorder = (): void => {};
  let workers: WorkersSource;
  if (options.worker) {
    history = config.dashboard.prometheusUrl ? prometheusHistory(config.dashboard.prometheusUrl) : clusterHistory();
    const stopAnswering = workerChannel().handle('process.stats', processStats);
    leaveCluster.push(stopAnswering);
    workers = { list: async () => ({ mode: 'cluster', ...(await workerChannel().ask('workers.list', undefined)) }) };
  } else {
    const store = new HistoryStore({ minutes: config.dashboard.historyMinutes });
    if (!config.dashboard.prometheusUrl) {
      stopRecorder = startRecorder(
        store,
        async () => [{ key: 'self', metrics: await metrics.registry.getMetricsAsJSON() }],
        { intervalMs: config.dashboard.historySampleS * 1000 },
      );
    }
    history = config.dashboard.prometheusUrl ? prometheusHistory(config.dashboard.prometheusUrl) : localHistory(store);
    workers = {
      list: async () => {
        const stats = processStats();
        return {
          mode: 'single',
          supervisor: { pid: process.pid, startedAt: stats.startedAt },
          restarts: 0,
          crashLoops: 0,
          workers: [
            {
              slot: 0,
              pid: process.pid,
              state: 'ready',
              startedAt: stats.startedAt,
              restarts: 0,
              connections: stats.connections,
              stats,
            },
          ],
        };
      },
    };
  }
  directory.onChange((tenant) => pool.retireTenant(tenant, 'redeploy'));
  // the deploy-time load runs under the tenant's own memory limit (its override, if any), as its isolates will
  const prepare = async (manifest: Parameters<typeof prepareDeployment>[0], files: Map<string, Buffer>) => {
    const record = await store.getTenant(manifest.tenant);
    const { memoryMb, startupCpuMs } = resolveLimits(config, manifest.tenant, record?.limits);
    return prepareDeployment(manifest, files, {
      memoryMb,
      startupTimeoutMs: config.pool.startupTimeoutMs,
      startupCpuMs,
      createSandbox: options.createSandbox,
    });
  };

  const {
    token: operatorToken,
    file: tokenFile,
    created,
  } = loadOperatorToken(config.dataDir, config.adminToken || undefined);
  if (tokenFile)
    logger.info(created ? 'generated the operator token' : 'using the operator token', { file: tokenFile });

  if (options.functionsDir) await publishFunctions(options.functionsDir, { store, logger, observer, prepare });
  // alone, this process is its node's subscriber to the store; under the supervisor, the
  // supervisor is, and tells this worker which revision to reach
  const follower = await StoreFollower.start(store, directory, logger, {
    hinted: !options.worker,
    pollMs: config.cluster.safetyPollMs,
  });
  const writeSync = options.worker ? joinStoreFanout(follower, config) : localWriteSync(follower, config);
  // who else follows the store in this process hears of changes through the same feed
  const followedStore = follower.followed(store);
  const stopFollowing = bindings.followDeletions(followedStore, logger);
  pool.start();
  // one process per node keeps the cron schedule: this one alone, or the worker in slot 0
  let scheduler: CronScheduler | null = null;
  let claims: SlotClaims | null = null;
  if (config.cron.enabled && (!options.worker || process.env.ISLET_WORKER_SLOT === '0')) {
    claims = openSlotClaims(store, config.dataDir, nodeId(config.nodes.id, config.dataDir));
    scheduler = new CronScheduler({
      store: followedStore,
      runner: cron,
      claims,
      logger,
      retryDelayMs: config.cron.retryDelayMs,
    });
    await scheduler.start();
  }

  // without its own listener (a supervisor owns the port), the configured port is the one clients use
  const tenant = options.listenTenant === false ? { port: config.port } : await front.listen(config.port, config.host);
  // tenant uploads build in child processes under the build limits (deploy/build-pool.ts)
  const builds = new BuildPool({
    timeoutMs: config.deploy.buildTimeoutMs,
    memoryMb: config.deploy.buildMemoryMb,
    logger,
  });
  // the node's heartbeat: here when this process is the node (alone, or any worker on the
  // directory store, whose list is the node itself); under a supervisor on PostgreSQL the
  // supervisor beats for the node. Every process is ready once its follower caught up.
  const node = await ThisNode.start({
    config,
    store,
    logger,
    port: tenant.port,
    workers: () => (options.worker ? config.workers : 1),
    applied: () => follower.revision,
    heartbeat: !options.worker || storeKind(config.store.url) === 'fs',
  });
  // read-your-writes across machines: a write also waits for every other live node
  const adminWriteSync =
    storeKind(config.store.url) === 'postgres'
      ? acrossNodes(writeSync.sync, node.registry, node.id, fanoutTimeoutMs(config))
      : writeSync.sync;
  const adminApi = createAdminApi({
    store,
    logger,
    observer,
    prepare,
    builder: builds.build,
    deploy: config.deploy,
    hostnames: config.hostnames,
    egress: config.egress,
    operatorToken,
    baseDomain: config.baseDomain,
    // the port actually bound (config.port may be 0), so tenant URLs in API answers work
    tenantPort: tenant.port,
    // PATCH /v1/tenants/{t} {limits} accepts exactly the limits serving understands
    limitNames: Object.keys(limitSettings),
    logs,
    metrics,
    dashboard: true,
    // 0: answer writes at once (changes still reach every process through the fan-out)
    writeSync: config.cluster.syncTimeoutMs > 0 ? adminWriteSync : undefined,
    quarantined,
    liftQuarantine: options.worker ? (tenant) => workerChannel().ask('quarantine.lift', { tenant }) : async () => false,
    kv: {
      backend: bindings.kv,
      limitsOf: (tenant: string, recordLimits?: Record<string, number>) => resolveLimits(config, tenant, recordLimits),
    },
    cron,
    scrapeTokens: config.scrapeTokens,
    history,
    workers,
    nodes: { registry: node.registry, self: node.id, shared: storeKind(config.store.url) === 'postgres' },
    ready: () => node.ready,
    onLogLinesDropped: (count) => metrics.logLinesDropped('follower', count),
    profiles: { source: profiles, ...config.profiles },
  });
  const admin = serveHono({ fetch: adminApi.fetch, port: config.adminPort, hostname: config.adminHost });
  const adminPort = await new Promise<number>((resolve, reject) => {
    admin.once('error', (err) =>
      reject(new Error(`admin API: cannot listen on ${config.adminHost}:${config.adminPort}: ${err.message}`)),
    );
    admin.once('listening', () => resolve((admin.address() as AddressInfo).port));
  });
  let metricsServer: MetricsServer | undefined;
  if (config.metricsPort && !options.worker)
    metricsServer = await startMetricsServer(metrics, { port: config.metricsPort, logger });

  logger.info('islet serving', {
    tenants: `http://${config.host}:${tenant.port}`,
    admin: `http://${config.adminHost}:${adminPort}`,
    baseDomain: config.baseDomain,
    dataDir: config.dataDir,
  });
  let closing: Promise<void> | undefined;
  return {
    config,
    store,
    pool,
    directory,
    metrics,
    logs,
    logger,
    operatorToken,
    bindings,
    cron,
    scheduler,
    tenantServer: front.server,
    tenantPort: tenant.port,
    adminPort,
    close: (how = {}) =>
      (closing ??= (async () => {
        scheduler?.stop();
        // once the requests are drained, WebSockets (which outlive requests) are closed, with a
        // code that tells clients to reconnect (restart) or that the server is going away
        const [code, reason] = how.restart ? [1012, 'service restart'] : [1001, 'server shutting down'];
        await front.close(config.server.shutdownTimeoutMs, () =>
          pool.closeWebSockets(code, reason, WEBSOCKET_CLOSE_MS),
        );
        // end follow streams first: an attached `islet logs --follow` would hold the admin server open
        logs.close();
        sourceMaps.close();
        await new Promise<void>((resolve) => admin.close(() => resolve()));
        builds.close();
        await metricsServer?.close();
        writeSync.leave();
        await follower.close();
        pool.close();
        for (const leave of leaveCluster) leave();
        stopRecorder();
        stopStallWatch();
        stopFollowing();
        passThrough.close();
        claims?.close();
        await node.stop();
        await bindings.close();
        await store.close();
        // what is still queued is exported (bounded by the exporter's timeout)
        await tracing?.close().catch(() => undefined);
      })()),
  };
}

export async function run(_command: string, args: string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(usageText);
    return;
  }
  // a debugger pauses the whole process: every tenant of a production server would stop with it
  if (args.some((a) => a === '--inspect' || a.startsWith('--inspect=')))
    throw new CliError(
      'islet serve: --inspect is refused (a paused tenant would stop every tenant of this process); ' +
        'debug a function with islet dev <dir> --inspect',
    );
  const config = loadConfig({ argv: args, env: process.env });
  configureStdout({ maxBacklogBytes: config.logs.stdoutBufferBytes });
  checkSharedStore(config);
  const functionsDir = argValue(args, '--functions');
  if (args.includes('--functions') && !functionsDir)
    throw new CliError('--functions: expected a folder after --functions');
  if (config.workers > 0 && cluster.isPrimary) return supervise(config, args, functionsDir);
  const worker = cluster.isWorker;
  // under the supervisor, functions/ was published once by the primary and the tenant port is
  // the supervisor's: connections arrive through it
  const serving = await startServing({
    config,
    functionsDir: worker ? undefined : functionsDir,
    worker,
    listenTenant: !worker,
  });
  if (worker) {
    joinSupervisor({
      server: serving.tenantServer,
      info: { adminPort: serving.adminPort },
      drain: (restart) => serving.close({ restart }),
    });
  } else {
    // reloading means replacing worker processes; a single process keeps serving as it is
    process.on('SIGHUP', () =>
      serving.logger.warn('SIGHUP ignored: configuration reload replaces worker processes (islet serve --workers N)'),
    );
    const shown = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
    console.error(
      `islet: tenant traffic on http://${config.host}:${serving.tenantPort} ` +
        `(e.g. http://hello.${config.baseDomain}:${serving.tenantPort}/ via ${shown})`,
    );
    console.error(`islet: admin API on http://${config.adminHost}:${serving.adminPort}`);
  }
  await onShutdown(serving.logger, () => serving.close());
  process.exit(0);
}
