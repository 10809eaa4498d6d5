// `islet serve` with workers: the supervisor process (see supervise() below).
import type { Config } from '../config';
import { Logger } from '../observe/server-log';
import { openConfiguredStore, storeKind } from '../store/open';
import { nullObserver } from '../tenants/observer';
import { loadOperatorToken } from '../admin/auth';
import { startMetricsServer } from '../admin/metrics';
import { ClusterMetrics } from '../observe/metrics/cluster';
import { ClusterLogs } from '../observe/tenant-logs/cluster';
import { ClusterProfiles } from '../observe/profiles/tenant-profiler';
import { Supervisor } from '../cluster/supervisor';
import { StoreFanout } from '../cluster/store-fanout';
import { SupervisorMetrics } from '../observe/metrics/supervisor';
import { primaryChannel } from '../cluster/primary-channel';
import { HistoryStore } from '../observe/metrics/history';
import { startRecorder } from '../observe/metrics/history-source';
import { ThisNode } from '../nodes/node';
import { publishFunctions, onShutdown } from './serve-lifecycle';
import { fanoutTimeoutMs } from './serve-worker';

/**
 * The supervisor (workers > 0): publishes functions/ once, then runs the workers under
 * server/cluster/supervisor.ts's Supervisor, which owns the tenant port and hands each connection to the
 * worker owning its hostname; the workers share the admin port (node:cluster). The primary never
 * runs tenant code. Metrics scraped from any worker (or the metrics port, served here) and tenant
 * logs read through any worker cover all of them. SIGHUP replaces the workers one by one with
 * freshly configured ones without dropping a request; SIGTERM drains them and exits 0.
 */
export async function supervise(config: Config, args: string[], functionsDir: string | undefined): Promise<void> {
  const logger = new Logger(config.logLevel);
  const { file: tokenFile, created } = loadOperatorToken(config.dataDir, config.adminToken || undefined);
  if (tokenFile)
    logger.info(created ? 'generated the operator token' : 'using the operator token', { file: tokenFile });
  // the supervisor is its node's one subscriber to the store (cluster/store-fanout.ts)
  const store = await openConfiguredStore(config, (message, fields) => logger.warn(message, fields));
  if (functionsDir) {
    // tenant code never runs in the primary: without a worker yet, publish with the build's static checks only
    await publishFunctions(functionsDir, { store, logger, observer: nullObserver, prepare: async () => new Map() });
  }
  const supervisorMetrics = new SupervisorMetrics();
  let supervisorRef: Supervisor | undefined;
  const clusterMetrics = new ClusterMetrics({
    restarts: () => supervisorRef?.stats().restarts ?? 0,
    own: supervisorMetrics.registry,
  });
  const clusterLogs = new ClusterLogs();
  const clusterProfiles = new ClusterProfiles();
  const channel = primaryChannel();
  const historyStore = new HistoryStore({ minutes: config.dashboard.historyMinutes });
  // every worker's registry, as the metrics scrape gathers them; a worker is one process for its life
  const stopRecorder = config.dashboard.prometheusUrl
    ? () => {}
    : startRecorder(
        historyStore,
        async () => {
          const { answers } = await channel.askAll('metrics.collect', undefined);
          return answers.map((a) => ({ key: `worker:${a.worker.pid ?? a.worker.id}`, metrics: a.value }));
        },
        { intervalMs: config.dashboard.historySampleS * 1000 },
      );
  const supervisorStartedAt = Date.now();
  const stopHandling = [
    channel.handle('history.query', (query) => historyStore.query(query)),
    channel.handle('workers.list', async () => {
      const stats = supervisorRef?.stats();
      const { answers } = await channel.askAll('process.stats', undefined);
      const byPid = new Map(answers.map((a) => [a.value.pid, a.value]));
      return {
        supervisor: { pid: process.pid, startedAt: supervisorStartedAt },
        restarts: stats?.restarts ?? 0,
        crashLoops: stats?.crashLoops ?? 0,
        workers: (stats?.workers ?? []).map((w) => ({
          slot: w.slot,
          pid: w.pid,
          state: w.ready ? ('ready' as const) : w.pid === null ? ('down' as const) : ('starting' as const),
          startedAt: w.startedAt,
          restarts: w.restarts,
          connections: w.connections,
          stats: (w.pid !== null ? byPid.get(w.pid) : undefined) ?? null,
        })),
      };
    }),
  ];
  const metricsServer = config.metricsPort
    ? await startMetricsServer(clusterMetrics, { port: config.metricsPort })
    : undefined;
  const supervisor = new Supervisor({
    workers: config.workers,
    port: config.port,
    host: config.host,
    logger,
    workerArgs: [
      'serve',
      ...args.filter((a, i) => a !== '--functions' && args[i - 1] !== '--functions' && !a.startsWith('--functions=')),
    ],
    drainTimeoutMs: config.server.shutdownTimeoutMs,
    maxConnectionsPerClient: config.server.maxConnectionsPerClient,
    onConnectionRefused: () => supervisorMetrics.connectionRefused(),
    quarantine: {
      deaths: config.cluster.quarantineDeaths,
      windowMs: config.cluster.quarantineWindowS * 1000,
      cooldownMs: config.cluster.quarantineCooldownS * 1000,
    },
    baseDomain: config.baseDomain,
    metrics: supervisorMetrics,
  });
  supervisorRef = supervisor;
  // answering workers' syncs from their first write on
  const fanout = new StoreFanout({
    store,
    logger,
    workers: () => supervisor.servingWorkers(),
    timeoutMs: fanoutTimeoutMs(config),
  });
  await fanout.start();
  const { port, workers } = await supervisor.start();
  // on a shared store the supervisor beats for its node, reporting the revision every serving
  // worker acknowledged (its workers read the node list and track their own readiness)
  const node =
    storeKind(config.store.url) === 'postgres'
      ? await ThisNode.start({
          config,
          store,
          logger,
          port,
          workers: () => supervisor.stats().workers.filter((w) => w.ready).length,
          applied: () => fanout.applied,
        })
      : null;
  const adminPort = workers.find((w) => typeof w.info?.adminPort === 'number')?.info?.adminPort;
  console.error(
    `islet: ${config.workers} workers; tenant traffic on http://${config.host}:${port}, ` +
      `admin API on http://${config.adminHost}:${adminPort}`,
  );
  process.on('SIGHUP', () => {
    logger.info('reloading: replacing the workers one by one', { signal: 'SIGHUP' });
    supervisor.reload().then(
      () => logger.info('reloaded'),
      (err: Error) => logger.error('reload failed', { error: err.message }),
    );
  });
  await onShutdown(logger, async () => {
    await node?.stop();
    await fanout.close();
    await supervisor.close();
    await store.close();
    await metricsServer?.close();
    clusterMetrics.close();
    clusterLogs.close();
    clusterProfiles.close();
    stopRecorder();
    for (const stop of stopHandling) stop();
  });
  process.exit(0);
}
