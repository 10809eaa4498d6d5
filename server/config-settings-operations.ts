// The operations settings (logs, dashboard, tracing, profiles, cache, cron, cluster, nodes,
// store), declared as the rest of the table in config-settings.ts is.
import type { Setting } from './config-types';

export const operationSettings: Setting[] = [
  {
    key: 'scrapeTokens',
    env: 'ISLET_SCRAPE_TOKENS',
    kind: { type: 'list' },
    doc:
      'read-only bearer tokens that may GET /metrics and nothing else: each a token or sha256:<hex> of one ' +
      '(`islet tokens create --scrape` makes one)',
  },
  {
    key: 'logs.tenantBytes',
    env: 'ISLET_TENANT_LOG_BYTES',
    kind: { type: 'int', min: 4096, max: 1 << 30, unit: 'bytes' },
    doc: "bytes of a tenant's recent log lines kept for the logs API, per process",
  },
  {
    key: 'logs.totalBytes',
    env: 'ISLET_TENANT_LOG_TOTAL_BYTES',
    kind: { type: 'int', min: 4096, max: 16 * 2 ** 30, unit: 'bytes' },
    doc:
      'bytes of recent log lines kept over all tenants, per process ' +
      '(least recently written tenants lose theirs first)',
  },
  {
    key: 'dashboard.prometheusUrl',
    env: 'ISLET_DASHBOARD_PROMETHEUS_URL',
    kind: {
      type: 'string',
      pattern: /^$|^https?:\/\/[^\s]+$/,
      expected: 'an http(s) URL of a Prometheus server, or empty',
    },
    doc: "the dashboard's history from this Prometheus server (query_range); empty: islet's own per-minute store",
  },
  {
    key: 'dashboard.historySampleS',
    env: 'ISLET_DASHBOARD_HISTORY_SAMPLE_S',
    kind: { type: 'int', min: 1, max: 60, unit: 's' },
    doc: 'how often that history samples the counters',
  },
  {
    key: 'dashboard.historyMinutes',
    env: 'ISLET_DASHBOARD_HISTORY_MINUTES',
    kind: { type: 'int', min: 10, max: 10_080, unit: 'minutes' },
    doc: 'minutes of per-minute history islet keeps itself (without prometheusUrl)',
  },
  {
    key: 'tracing.enabled',
    env: 'ISLET_TRACING',
    kind: { type: 'bool' },
    doc:
      'export OpenTelemetry traces over OTLP/HTTP ' +
      '(also on when OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set)',
  },
  {
    key: 'tracing.sampleRatio',
    env: 'ISLET_TRACE_SAMPLE_RATIO',
    kind: { type: 'ratio' },
    doc: 'share of new traces recorded (OTEL_TRACES_SAMPLER overrides it)',
  },
  {
    key: 'tracing.trustedPeers',
    env: 'ISLET_TRACE_TRUSTED_PEERS',
    kind: { type: 'list' },
    doc: 'addresses/CIDRs whose traceparent header is continued, besides trustedProxies (comma-separated in env)',
  },
  {
    key: 'tracing.maxQueueSize',
    env: 'ISLET_TRACE_QUEUE_SIZE',
    kind: { type: 'int', min: 1, max: 1_000_000, unit: 'spans' },
    doc: 'finished spans waiting for export, per process (more are dropped and counted)',
  },
  {
    key: 'tracing.maxExportBatchSize',
    env: 'ISLET_TRACE_BATCH_SIZE',
    kind: { type: 'int', min: 1, max: 1_000_000, unit: 'spans' },
    doc: 'spans per export request',
  },
  {
    key: 'tracing.scheduledDelayMs',
    env: 'ISLET_TRACE_EXPORT_DELAY_MS',
    kind: { type: 'int', min: 1, max: 600_000, unit: 'ms' },
    doc: 'longest a finished span waits before its batch is exported',
  },
  {
    key: 'profiles.maxSeconds',
    env: 'ISLET_PROFILE_MAX_SECONDS',
    kind: { type: 'int', min: 1, max: 600, unit: 's' },
    doc: 'the longest CPU profile of a tenant one request may ask for',
  },
  {
    key: 'profiles.samplingIntervalUs',
    env: 'ISLET_PROFILE_SAMPLING_US',
    kind: { type: 'int', min: 100, max: 100_000, unit: 'µs' },
    doc: 'time between samples of a CPU profile',
  },
  {
    key: 'cache.memoryMb',
    env: 'ISLET_CACHE_MEMORY_MB',
    kind: { type: 'int', min: 0, max: 1_048_576, unit: 'MB' },
    doc: 'Cache API responses kept in memory by each process, over all tenants',
  },
  {
    key: 'cache.diskMb',
    env: 'ISLET_CACHE_DISK_MB',
    kind: { type: 'int', min: 0, max: 1_073_741_824, unit: 'MB' },
    doc: "Cache API responses on this node's disk, over all tenants",
  },
  {
    key: 'cache.maxEntryMb',
    env: 'ISLET_CACHE_MAX_ENTRY_MB',
    kind: { type: 'int', min: 1, max: 512, unit: 'MB' },
    doc: 'the largest response one cache.put() stores',
  },
  { key: 'cron.enabled', env: 'ISLET_CRON', kind: { type: 'bool' }, doc: 'run cron triggers on this node' },
  {
    key: 'cron.retryDelayMs',
    env: 'ISLET_CRON_RETRY_DELAY_MS',
    kind: { type: 'int', min: 0, max: 3_600_000, unit: 'ms' },
    doc: 'a failed cron run (not marked noRetry) runs again once after this delay',
  },
  {
    key: 'cluster.syncTimeoutMs',
    env: 'ISLET_SYNC_TIMEOUT_MS',
    kind: { type: 'int', min: 0, max: 600_000, unit: 'ms' },
    doc: "how long an admin write's answer waits for every serving process to serve it (0: answer at once)",
  },
  {
    key: 'cluster.safetyPollMs',
    env: 'ISLET_SAFETY_POLL_MS',
    kind: { type: 'int', min: 100, max: 3_600_000, unit: 'ms' },
    doc: "a serving process reads the store's change log at least this often, whatever it was told",
  },
  {
    key: 'cluster.quarantineDeaths',
    env: 'ISLET_QUARANTINE_DEATHS',
    kind: { type: 'int', min: 1, max: 1000 },
    doc: 'worker deaths a tenant may cause within cluster.quarantineWindowS before it is quarantined',
  },
  {
    key: 'cluster.quarantineWindowS',
    env: 'ISLET_QUARANTINE_WINDOW_S',
    kind: { type: 'int', min: 1, max: 86_400 * 7, unit: 's' },
    doc: 'the window in which worker deaths are counted against a tenant',
  },
  {
    key: 'cluster.quarantineCooldownS',
    env: 'ISLET_QUARANTINE_COOLDOWN_S',
    kind: { type: 'int', min: 1, max: 86_400 * 7, unit: 's' },
    doc: 'how long a quarantined tenant is refused (503 islet-error: quarantined, with Retry-After)',
  },
  {
    key: 'nodes.id',
    env: 'ISLET_NODE_ID',
    kind: {
      type: 'string',
      pattern: /^$|^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/,
      expected: 'letters, digits, . _ - (at most 63)',
    },
    doc: "this node's id among the nodes sharing a store; empty: one made once and kept in the data folder",
  },
  {
    key: 'nodes.address',
    env: 'ISLET_NODE_ADDRESS',
    kind: { type: 'string', pattern: /^[^\s]{0,255}$/, expected: 'host:port without spaces' },
    doc: 'how operators and other nodes reach this node (shown by GET /v1/nodes); empty: <hostname>:<port>',
  },
  {
    key: 'nodes.heartbeatMs',
    env: 'ISLET_HEARTBEAT_MS',
    kind: { type: 'int', min: 100, max: 600_000, unit: 'ms' },
    doc: 'how often a node writes its heartbeat (id, address, applied revision, workers) to the store',
  },
  {
    key: 'nodes.liveBeats',
    env: 'ISLET_NODE_LIVE_BEATS',
    kind: { type: 'int', min: 1, max: 1000 },
    doc: 'heartbeats a node may miss before it counts as not live (writes stop waiting for it)',
  },
  {
    key: 'store.url',
    env: 'ISLET_STORE_URL',
    kind: {
      type: 'string',
      pattern: /^$|^file:\/\/\/|^postgres(ql)?:\/\/./,
      expected: 'empty (the data folder), file:///<folder> or postgres://user:password@host:port/database',
    },
    doc: 'where deployments, env and tokens live: a folder (one machine) or PostgreSQL (many machines)',
    // a URL may carry the database password
    secret: true,
  },
  {
    key: 'store.poolSize',
    env: 'ISLET_STORE_POOL_SIZE',
    kind: { type: 'int', min: 1, max: 1000 },
    doc: 'PostgreSQL connections per process (plus one LISTEN connection)',
  },
  {
    key: 'store.sslMode',
    env: 'ISLET_STORE_SSLMODE',
    kind: { type: 'enum', values: ['auto', 'disable', 'require', 'verify-ca', 'verify-full'] },
    doc: "TLS to PostgreSQL as libpq's sslmode; auto: the URL's sslmode= parameter, else disable",
  },
  {
    key: 'store.sslCaFile',
    env: 'ISLET_STORE_SSL_CA_FILE',
    kind: { type: 'string' },
    doc: "PEM file of the CA of PostgreSQL's certificate (empty: the system's CAs)",
  },
  {
    key: 'store.secretKey',
    env: 'ISLET_SECRET_KEY',
    kind: {
      type: 'string',
      pattern: /^$|^[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/=]{40,}(,[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/=]{40,})*$/,
      expected: '<key id>:<base64 of 32 bytes>[,<id>:<base64>...] (islet store keygen)',
    },
    doc: 'encrypts tenant secrets in PostgreSQL (AES-256-GCM); the first key encrypts, all decrypt',
    secret: true,
  },
  {
    key: 'store.changeRetentionS',
    env: 'ISLET_CHANGE_RETENTION_S',
    kind: { type: 'int', min: 0, max: 31_536_000, unit: 's' },
    doc: "changes younger than this stay in PostgreSQL's change log; older ones every live node applied are compacted",
  },
  {
    key: 'store.nodeCacheMb',
    env: 'ISLET_NODE_CACHE_MB',
    kind: { type: 'int', min: 1, max: 1_048_576, unit: 'MB' },
    doc: 'module blobs and code caches a node keeps on its disk with a PostgreSQL store (least recently used out)',
  },
];
