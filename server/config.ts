// islet's settings: config/default.json, then an optional `--config <file>`, then ISLET_*
// environment variables, each layer overriding the one before. Every setting is declared once in
// the table below (its path, its environment variable, what values it accepts), so validation,
// error messages and config/README.md describe the same thing. All problems are collected and
// reported together, each naming the setting, where the bad value came from and what is expected,
// so an operator fixes a broken config in one pass.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from './errors';
import { protectionSettings } from './config-protections';
import { parseSecretKeys } from './store/postgres/secrets';
import { cfProblems } from './front/cf/settings';

export { ConfigError } from './errors';

/** Per-tenant limits: defaults in `limits`, overridable per tenant (store record or `tenants.<name>.limits`). */
export interface Limits {
  /** CPU time one request may spend inside the isolate, summed over every entry (ms) */
  cpuMs: number;
  /** wall time from dispatch to the end of the response body and every waitUntil (ms) */
  wallMs: number;
  /** heap of the tenant's isolate (MB) */
  memoryMb: number;
  /** request body bytes the function may read */
  requestBodyBytes: number;
  /** response body bytes the function may produce */
  responseBodyBytes: number;
  /** fetch() calls per request */
  subrequests: number;
  /** time limit of one fetch() (ms) */
  subrequestTimeoutMs: number;
  /** bytes of one fetch() response body */
  subrequestResponseBytes: number;
  /** console output per request (bytes of message text); past it, records are dropped and one notice is logged */
  logBytes: number;
  /** requests in flight in one isolate */
  concurrency: number;
  /** CPU time a cold start's top-level code may use (ms), charged to the tenant */
  startupCpuMs: number;
  // WebSockets (server/host/websockets/). Optional in the type so that code building limits by
  // hand need not name them; a loaded config always has them (config/default.json), and
  // webSocketLimits() there fills the same defaults in for hand-made ones.
  /** bytes of one WebSocket message, either direction (1009 past it inbound; send() throws outbound) */
  webSocketMessageBytes?: number;
  /** messages per second over all of a tenant's WebSockets in one process, each direction (paced past it) */
  webSocketMessagesPerSecond?: number;
  /** a WebSocket with no message either way for this long is closed (1001) */
  webSocketIdleMs?: number;
  /** WebSockets a tenant holds open at once in one process (accepted and outbound) */
  webSockets?: number;
  /** bytes sent to one WebSocket and not yet taken by its peer; past it the socket is closed (1013) */
  webSocketBufferBytes?: number;
  /** CPU time of the work each inbound WebSocket message starts (its handler, and what runs until the next) */
  webSocketMessageCpuMs?: number;
  // Bindings (server/bindings/). Optional in the type so that code building a Limits by hand
  // need not name them; a loaded config always has them (config/default.json).
  /** KV: bytes a tenant stores (keys, values, metadata) over all its namespaces */
  kvBytes?: number;
  /** KV: keys a tenant stores over all its namespaces */
  kvKeys?: number;
  /** KV and Cache API operations one request (or cron run) may make */
  bindingOps?: number;
  /** Cache API: bytes of a tenant's cached responses on this node's disk */
  cacheBytes?: number;
  /** CPU time of one cron run (`scheduled` handler) */
  cronCpuMs?: number;
  /** wall time of one cron run, waitUntil included */
  cronWallMs?: number;
}

/**
 * The limits the sandbox enforces on each request; the others bound the isolate (memory), the
 * pool (concurrency) or a cold start (startupCpuMs).
 */
export type RequestLimits = Omit<Limits, 'memoryMb' | 'concurrency' | 'startupCpuMs'>;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Builds and what a tenant may store (server/deploy/). */
export interface DeploySettings {
  /** uploads built at once, per process */
  concurrency: number;
  /** uploads waiting beyond those */
  queue: number;
  /** uploads of one tenant waiting beyond its running one (its share of the queue) */
  queuePerTenant: number;
  /** wall time of one build (ms) */
  buildTimeoutMs: number;
  /** memory of each process of one build (MB) */
  buildMemoryMb: number;
  /** stored versions per tenant */
  maxVersions: number;
  /** bytes of stored files (modules and source maps) per tenant, over every version */
  maxStoredBytes: number;
  /** modules in one deployment */
  maxModules: number;
  /** over a quota: prune the oldest inactive versions, or refuse the upload */
  quotaPolicy: 'prune' | 'refuse';
}

export interface Config {
  port: number;
  host: string;
  adminPort: number;
  adminHost: string;
  /** 0: /metrics only on the admin port (with auth) */
  metricsPort: number;
  baseDomain: string;
  /** absolute */
  dataDir: string;
  /** empty: generated at first start into <dataDir>/admin-token */
  adminToken: string;
  /** 0: one process, no supervisor */
  workers: number;
  logLevel: LogLevel;
  logRequests: boolean;
  server: {
    maxHeaderBytes: number;
    headersTimeoutMs: number;
    keepAliveTimeoutMs: number;
    shutdownTimeoutMs: number;
    /** connections one client address may hold open on the tenant port (0: no cap) */
    maxConnectionsPerClient: number;
  };
  limits: Limits;
  pool: {
    maxIsolates: number;
    maxMemoryMb: number;
    idleTimeoutS: number;
    sampleIntervalS: number;
    startupTimeoutMs: number;
    drainTimeoutMs: number;
    /** isolate deaths (failed starts, memory kills) in a row before a tenant is backed off */
    backoffAfter: number;
    /** the first back-off; each further death doubles it */
    backoffBaseMs: number;
    backoffMaxMs: number;
  };
  deploy: DeploySettings;
  hostnames: {
    /** how a tenant proves a custom hostname: none (the operator assigns), a DNS TXT record, an HTTP token */
    verification: 'none' | 'dns' | 'http';
    /** the port the HTTP token is fetched from (80 in production) */
    httpPort: number;
    checkTimeoutMs: number;
  };
  exceptions: {
    /** bytes kept of a tenant exception's message and of its stack, before mapping and logging */
    maxBytes: number;
    /** stack frames kept */
    maxFrames: number;
  };
  egress: { allow: string[] };
  /** the supervisor and its workers (`workers` > 0) */
  cluster: {
    /** how long an admin write's answer waits for every serving process to serve it (ms; 0: it does not wait) */
    syncTimeoutMs: number;
    /** a serving process reads the store's change log at least this often, whatever it was told (ms) */
    safetyPollMs: number;
    /** worker deaths a tenant may be the cause of within quarantineWindowS before it is quarantined */
    quarantineDeaths: number;
    quarantineWindowS: number;
    /** how long a quarantined tenant is refused (503, Retry-After) */
    quarantineCooldownS: number;
  };
  /** peers whose request.cf headers (and client address header) islet believes: addresses or CIDRs */
  trustedProxies: string[];
  /** what request.cf holds besides the HTTP version (server/front/cf/) */
  cf: {
    /** a header a trusted proxy puts the whole cf object in, as JSON (workerd's cfBlobHeader); '' off */
    blobHeader: string;
    /** `field=header` pairs: request.cf.<field> from that header of a trusted proxy */
    headers: string[];
    /** MaxMind .mmdb files (GeoIP2/GeoLite2 City or Country, ASN) looked up by client address */
    geoip: string[];
    /** request.cf.colo of every request this node serves ('' none) */
    colo: string;
    /** where a trusted proxy puts the client's address (x-forwarded-for: its rightmost untrusted entry) */
    clientIpHeader: string;
  };
  /** the Cache API's per-node storage (server/bindings/cache/) */
  cache: {
    /** cached responses kept in memory by each process, over all tenants */
    memoryMb: number;
    /** cached responses on this node's disk, over all tenants (each tenant also has limits.cacheBytes) */
    diskMb: number;
    /** the largest response one cache.put() stores */
    maxEntryMb: number;
  };
  /** cron triggers (server/bindings/cron/) */
  cron: {
    enabled: boolean;
    /** a failed run (not marked noRetry) is run again once after this delay */
    retryDelayMs: number;
  };
  /** read-only tokens for GET /metrics: each a token, or `sha256:<hex>` of one */
  scrapeTokens: string[];
  /** the tenant log rings kept in memory for the logs API (observe/tenant-logs/) */
  logs: {
    tenantBytes: number;
    totalBytes: number;
    /** log output a process keeps for a stdout reader that lags, past which lines are dropped */
    stdoutBufferBytes: number;
  };
  dashboard: {
    /** a Prometheus server the dashboard's history reads from; empty: islet's own per-minute store */
    prometheusUrl: string;
    /** minutes of per-minute history islet keeps itself */
    historyMinutes: number;
    /** how often that history samples the counters (seconds) */
    historySampleS: number;
  };
  /** OpenTelemetry traces (observe/tracing/): off unless enabled or an OTLP endpoint is set */
  tracing: {
    enabled: boolean;
    /** share of new traces recorded (a trusted caller's sampled flag decides for its own) */
    sampleRatio: number;
    /** addresses and CIDR ranges whose traceparent is continued */
    trustedPeers: string[];
    /** finished spans waiting for export; more are dropped and counted */
    maxQueueSize: number;
    maxExportBatchSize: number;
    scheduledDelayMs: number;
  };
  /** CPU profiles of tenants (POST /v1/tenants/{t}/profile) */
  profiles: {
    /** the longest profile one request may ask for (seconds) */
    maxSeconds: number;
    /** µs between samples */
    samplingIntervalUs: number;
  };
  store: {
    /** '' (the data folder), file:///<folder> or postgres://… */
    url: string;
    poolSize: number;
    sslMode: 'auto' | 'disable' | 'require' | 'verify-ca' | 'verify-full';
    /** '' : the system's CAs */
    sslCaFile: string;
    /** `id:base64key[,…]`; required with a postgres:// url */
    secretKey: string;
  };
  tenants: Record<string, { limits?: Partial<Limits> }>;
}

export type Kind =
  | { type: 'int'; min: number; max: number; unit?: string; auto?: { doc: string; value: () => number } }
  | { type: 'string'; pattern?: RegExp; expected?: string }
  | { type: 'bool' }
  | { type: 'ratio' }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'list' };

export interface Setting {
  /** dotted path in the config object */
  key: string;
  env: string;
  kind: Kind;
  doc: string;
  /** a secret: a bad value is never echoed in an error */
  secret?: boolean;
}

const MAX_BYTES = Number.MAX_SAFE_INTEGER;
const hostnamePattern = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const headerNamePattern = /^$|^[!#$%&'*+.^_`|~0-9a-z-]+$/;
const bindPattern = /^[0-9a-fA-F:.]+$|^[a-z0-9.-]+$/;

const port = (min = 0): Kind => ({ type: 'int', min, max: 65535 });

/** Limit settings: shared by the global defaults and per-tenant overrides. */
export const limitSettings: Record<keyof Limits, { env: string; kind: Kind & { type: 'int' }; doc: string }> = {
  cpuMs: { env: 'ISLET_CPU_LIMIT_MS', kind: { type: 'int', min: 1, max: 600_000, unit: 'ms' }, doc: 'CPU time one request may spend inside the isolate' },
  wallMs: { env: 'ISLET_WALL_LIMIT_MS', kind: { type: 'int', min: 1, max: 3_600_000, unit: 'ms' }, doc: 'wall time of one request, waitUntil included' },
  memoryMb: { env: 'ISLET_MEMORY_LIMIT_MB', kind: { type: 'int', min: 8, max: 65_536, unit: 'MB' }, doc: 'heap of one tenant isolate' },
  requestBodyBytes: { env: 'ISLET_REQUEST_BODY_LIMIT_BYTES', kind: { type: 'int', min: 0, max: MAX_BYTES, unit: 'bytes' }, doc: 'request body size (413 past it)' },
  responseBodyBytes: { env: 'ISLET_RESPONSE_BODY_LIMIT_BYTES', kind: { type: 'int', min: 0, max: MAX_BYTES, unit: 'bytes' }, doc: 'response body size a function may produce' },
  subrequests: { env: 'ISLET_SUBREQUEST_LIMIT', kind: { type: 'int', min: 0, max: 100_000 }, doc: 'fetch() calls per request' },
  subrequestTimeoutMs: { env: 'ISLET_SUBREQUEST_TIMEOUT_MS', kind: { type: 'int', min: 1, max: 3_600_000, unit: 'ms' }, doc: 'time limit of one fetch()' },
  subrequestResponseBytes: { env: 'ISLET_SUBREQUEST_RESPONSE_LIMIT_BYTES', kind: { type: 'int', min: 0, max: MAX_BYTES, unit: 'bytes' }, doc: 'body size of one fetch() response' },
  logBytes: { env: 'ISLET_LOG_LIMIT_BYTES', kind: { type: 'int', min: 0, max: MAX_BYTES, unit: 'bytes' }, doc: 'console output per request' },
  concurrency: { env: 'ISLET_CONCURRENCY_LIMIT', kind: { type: 'int', min: 1, max: 1_000_000 }, doc: 'requests in flight in one isolate (503 past it)' },
  startupCpuMs: {
    env: 'ISLET_STARTUP_CPU_LIMIT_MS',
    kind: { type: 'int', min: 1, max: 600_000, unit: 'ms' },
    doc: "CPU time a cold start's top-level code may use, charged to the tenant",
  },
  webSocketMessageBytes: {
    env: 'ISLET_WEBSOCKET_MESSAGE_LIMIT_BYTES',
    kind: { type: 'int', min: 125, max: 1 << 30, unit: 'bytes' },
    doc: 'one WebSocket message, either direction (inbound: closed 1009; outbound: send() throws)',
  },
  webSocketMessagesPerSecond: {
    env: 'ISLET_WEBSOCKET_MESSAGES_PER_SECOND',
    kind: { type: 'int', min: 1, max: 10_000_000 },
    doc: "messages per second over a tenant's WebSockets in one process, each direction (paced past it)",
  },
  webSocketIdleMs: {
    env: 'ISLET_WEBSOCKET_IDLE_TIMEOUT_MS',
    kind: { type: 'int', min: 100, max: 86_400_000, unit: 'ms' },
    doc: 'a WebSocket with no message either way for this long is closed (1001)',
  },
  webSockets: {
    env: 'ISLET_WEBSOCKET_LIMIT',
    kind: { type: 'int', min: 0, max: 1_000_000 },
    doc: 'WebSockets a tenant holds open at once in one process',
  },
  webSocketBufferBytes: {
    env: 'ISLET_WEBSOCKET_BUFFER_LIMIT_BYTES',
    kind: { type: 'int', min: 1024, max: 1 << 30, unit: 'bytes' },
    doc: 'bytes sent to one WebSocket its peer has not read yet (closed 1013 past it)',
  },
  webSocketMessageCpuMs: {
    env: 'ISLET_WEBSOCKET_MESSAGE_CPU_LIMIT_MS',
    kind: { type: 'int', min: 1, max: 600_000, unit: 'ms' },
    doc: 'CPU time of the work one inbound WebSocket message starts (closed 1011 past it)',
  },
  kvBytes: { env: 'ISLET_KV_LIMIT_BYTES', kind: { type: 'int', min: 0, max: MAX_BYTES, unit: 'bytes' }, doc: 'KV bytes a tenant stores (keys, values, metadata)' },
  kvKeys: { env: 'ISLET_KV_LIMIT_KEYS', kind: { type: 'int', min: 0, max: 1_000_000_000 }, doc: 'KV keys a tenant stores' },
  bindingOps: { env: 'ISLET_BINDING_OPS_LIMIT', kind: { type: 'int', min: 0, max: 1_000_000 }, doc: 'KV and Cache API operations per request or cron run' },
  cacheBytes: { env: 'ISLET_CACHE_LIMIT_BYTES', kind: { type: 'int', min: 0, max: MAX_BYTES, unit: 'bytes' }, doc: "bytes of a tenant's cached responses on this node's disk" },
  cronCpuMs: { env: 'ISLET_CRON_CPU_LIMIT_MS', kind: { type: 'int', min: 1, max: 600_000, unit: 'ms' }, doc: 'CPU time of one cron run' },
  cronWallMs: { env: 'ISLET_CRON_WALL_LIMIT_MS', kind: { type: 'int', min: 1, max: 86_400_000, unit: 'ms' }, doc: 'wall time of one cron run, waitUntil included' },
};

export const settings: Setting[] = [
  { key: 'port', env: 'ISLET_PORT', kind: port(), doc: 'tenant traffic port (0: any free port)' },
  { key: 'host', env: 'ISLET_HOST', kind: { type: 'string', pattern: bindPattern, expected: 'an IP address or host name to bind' }, doc: 'tenant traffic address' },
  { key: 'adminPort', env: 'ISLET_ADMIN_PORT', kind: port(), doc: 'admin API port' },
  { key: 'adminHost', env: 'ISLET_ADMIN_HOST', kind: { type: 'string', pattern: bindPattern, expected: 'an IP address or host name to bind' }, doc: 'admin API address' },
  { key: 'metricsPort', env: 'ISLET_METRICS_PORT', kind: port(), doc: 'unauthenticated /metrics on 127.0.0.1 (0: off)' },
  { key: 'baseDomain', env: 'ISLET_BASE_DOMAIN', kind: { type: 'string', pattern: hostnamePattern, expected: 'a lower-case DNS name such as example.com' }, doc: 'tenant t answers on t.<baseDomain>' },
  { key: 'dataDir', env: 'ISLET_DATA_DIR', kind: { type: 'string', pattern: /./, expected: 'a directory path' }, doc: 'where the store keeps deployments' },
  { key: 'adminToken', env: 'ISLET_ADMIN_TOKEN', kind: { type: 'string' }, doc: 'operator token (empty: generated)' },
  {
    key: 'workers',
    env: 'ISLET_WORKERS',
    kind: { type: 'int', min: 0, max: 256, auto: { doc: 'the number of cores', value: () => os.availableParallelism() } },
    doc: 'worker processes under a supervisor (0: serve in this one process, no supervisor); `islet serve --workers N` overrides',
  },
  { key: 'logLevel', env: 'ISLET_LOG_LEVEL', kind: { type: 'enum', values: ['debug', 'info', 'warn', 'error'] }, doc: 'server log level' },
  { key: 'logRequests', env: 'ISLET_LOG_REQUESTS', kind: { type: 'bool' }, doc: 'one JSON log line per request' },
  {
    key: 'logs.stdoutBufferBytes',
    env: 'ISLET_LOG_BUFFER_BYTES',
    kind: { type: 'int', min: 4096, max: 1 << 30, unit: 'bytes' },
    doc: 'log output a process keeps for a stdout reader that lags; past it lines are dropped (counted)',
  },
  { key: 'server.maxHeaderBytes', env: 'ISLET_MAX_HEADER_BYTES', kind: { type: 'int', min: 1024, max: 1_048_576, unit: 'bytes' }, doc: 'request line + headers size (431 past it)' },
  { key: 'server.headersTimeoutMs', env: 'ISLET_HEADERS_TIMEOUT_MS', kind: { type: 'int', min: 100, max: 600_000, unit: 'ms' }, doc: 'time a client has to send its headers' },
  { key: 'server.keepAliveTimeoutMs', env: 'ISLET_KEEP_ALIVE_TIMEOUT_MS', kind: { type: 'int', min: 0, max: 600_000, unit: 'ms' }, doc: 'idle keep-alive connection timeout' },
  { key: 'server.shutdownTimeoutMs', env: 'ISLET_SHUTDOWN_TIMEOUT_MS', kind: { type: 'int', min: 0, max: 600_000, unit: 'ms' }, doc: 'how long SIGTERM waits for in-flight requests' },
  ...protectionSettings.server,
  ...Object.entries(limitSettings).map(([name, s]) => ({ key: `limits.${name}`, env: s.env, kind: s.kind, doc: s.doc })),
  { key: 'pool.maxIsolates', env: 'ISLET_POOL_MAX_ISOLATES', kind: { type: 'int', min: 1, max: 1_000_000 }, doc: 'warm isolates kept (least recently used evicted)' },
  { key: 'pool.maxMemoryMb', env: 'ISLET_POOL_MAX_MEMORY_MB', kind: { type: 'int', min: 16, max: 1_048_576, unit: 'MB' }, doc: 'total heap of warm isolates' },
  { key: 'pool.idleTimeoutS', env: 'ISLET_POOL_IDLE_TIMEOUT_S', kind: { type: 'int', min: 1, max: 86_400 * 30, unit: 's' }, doc: 'an isolate idle this long is disposed' },
  { key: 'pool.sampleIntervalS', env: 'ISLET_POOL_SAMPLE_INTERVAL_S', kind: { type: 'int', min: 1, max: 3600, unit: 's' }, doc: 'how often heap sizes are sampled and idle isolates swept' },
  { key: 'pool.startupTimeoutMs', env: 'ISLET_STARTUP_TIMEOUT_MS', kind: { type: 'int', min: 1, max: 600_000, unit: 'ms' }, doc: "time a deployment's top-level code may run" },
  { key: 'pool.drainTimeoutMs', env: 'ISLET_DRAIN_TIMEOUT_MS', kind: { type: 'int', min: 0, max: 3_600_000, unit: 'ms' }, doc: 'longest an old isolate drains after a redeploy' },
  ...protectionSettings.pool,
  ...protectionSettings.rest,
  { key: 'egress.allow', env: 'ISLET_EGRESS_ALLOW', kind: { type: 'list' }, doc: 'private hosts/IPs/CIDRs tenant fetch() may reach (comma-separated in env)' },
  {
    key: 'trustedProxies',
    env: 'ISLET_TRUSTED_PROXIES',
    kind: { type: 'list' },
    doc: 'addresses or CIDRs of front proxies whose request.cf headers are believed (comma-separated in env; empty: none)',
  },
  {
    key: 'cf.blobHeader',
    env: 'ISLET_CF_BLOB_HEADER',
    kind: { type: 'string', pattern: headerNamePattern, expected: 'a lower-case header name, or empty' },
    doc: 'header in which a trusted proxy sends the whole request.cf object as JSON (empty: off)',
  },
  {
    key: 'cf.headers',
    env: 'ISLET_CF_HEADERS',
    kind: { type: 'list' },
    doc: 'field=header pairs: request.cf.<field> taken from that header of a trusted proxy',
  },
  {
    key: 'cf.geoip',
    env: 'ISLET_CF_GEOIP',
    kind: { type: 'list' },
    doc: "MaxMind .mmdb files (City/Country, ASN) giving request.cf's geo fields from the client address",
  },
  {
    key: 'cf.colo',
    env: 'ISLET_CF_COLO',
    kind: { type: 'string', pattern: /^[A-Za-z0-9_-]{0,16}$/, expected: 'a short location code such as FRA, or empty' },
    doc: 'request.cf.colo of every request this node serves',
  },
  {
    key: 'cf.clientIpHeader',
    env: 'ISLET_CF_CLIENT_IP_HEADER',
    kind: { type: 'string', pattern: headerNamePattern, expected: 'a lower-case header name, or empty' },
    doc: "header a trusted proxy puts the client's address in (x-forwarded-for: its rightmost untrusted entry)",
  },
  { key: 'scrapeTokens', env: 'ISLET_SCRAPE_TOKENS', kind: { type: 'list' }, doc: 'read-only bearer tokens that may GET /metrics and nothing else: each a token or sha256:<hex> of one (`islet tokens create --scrape` makes one)' },
  { key: 'logs.tenantBytes', env: 'ISLET_TENANT_LOG_BYTES', kind: { type: 'int', min: 4096, max: 1 << 30, unit: 'bytes' }, doc: "bytes of a tenant's recent log lines kept for the logs API, per process" },
  { key: 'logs.totalBytes', env: 'ISLET_TENANT_LOG_TOTAL_BYTES', kind: { type: 'int', min: 4096, max: 16 * 2 ** 30, unit: 'bytes' }, doc: 'bytes of recent log lines kept over all tenants, per process (least recently written tenants lose theirs first)' },
  { key: 'dashboard.prometheusUrl', env: 'ISLET_DASHBOARD_PROMETHEUS_URL', kind: { type: 'string', pattern: /^$|^https?:\/\/[^\s]+$/, expected: 'an http(s) URL of a Prometheus server, or empty' }, doc: "the dashboard's history from this Prometheus server (query_range); empty: islet's own per-minute store" },
  { key: 'dashboard.historySampleS', env: 'ISLET_DASHBOARD_HISTORY_SAMPLE_S', kind: { type: 'int', min: 1, max: 60, unit: 's' }, doc: 'how often that history samples the counters' },
  { key: 'dashboard.historyMinutes', env: 'ISLET_DASHBOARD_HISTORY_MINUTES', kind: { type: 'int', min: 10, max: 10_080, unit: 'minutes' }, doc: 'minutes of per-minute history islet keeps itself (without prometheusUrl)' },
  { key: 'tracing.enabled', env: 'ISLET_TRACING', kind: { type: 'bool' }, doc: 'export OpenTelemetry traces over OTLP/HTTP (also on when OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set)' },
  { key: 'tracing.sampleRatio', env: 'ISLET_TRACE_SAMPLE_RATIO', kind: { type: 'ratio' }, doc: 'share of new traces recorded (OTEL_TRACES_SAMPLER overrides it)' },
  { key: 'tracing.trustedPeers', env: 'ISLET_TRACE_TRUSTED_PEERS', kind: { type: 'list' }, doc: 'addresses/CIDRs whose traceparent header is continued, besides trustedProxies (comma-separated in env)' },
  { key: 'tracing.maxQueueSize', env: 'ISLET_TRACE_QUEUE_SIZE', kind: { type: 'int', min: 1, max: 1_000_000, unit: 'spans' }, doc: 'finished spans waiting for export, per process (more are dropped and counted)' },
  { key: 'tracing.maxExportBatchSize', env: 'ISLET_TRACE_BATCH_SIZE', kind: { type: 'int', min: 1, max: 1_000_000, unit: 'spans' }, doc: 'spans per export request' },
  { key: 'tracing.scheduledDelayMs', env: 'ISLET_TRACE_EXPORT_DELAY_MS', kind: { type: 'int', min: 1, max: 600_000, unit: 'ms' }, doc: 'longest a finished span waits before its batch is exported' },
  { key: 'profiles.maxSeconds', env: 'ISLET_PROFILE_MAX_SECONDS', kind: { type: 'int', min: 1, max: 600, unit: 's' }, doc: 'the longest CPU profile of a tenant one request may ask for' },
  { key: 'profiles.samplingIntervalUs', env: 'ISLET_PROFILE_SAMPLING_US', kind: { type: 'int', min: 100, max: 100_000, unit: 'µs' }, doc: 'time between samples of a CPU profile' },
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
];

const byKey = new Map(settings.map((s) => [s.key, s]));

function describe(kind: Kind): string {
  switch (kind.type) {
    case 'int':
      return `an integer from ${kind.min} to ${kind.max}${kind.unit ? ` (${kind.unit})` : ''}${kind.auto ? ` or "auto" (${kind.auto.doc})` : ''}`;
    case 'string':
      return kind.expected ?? 'a string';
    case 'bool':
      return 'true or false';
    case 'ratio':
      return 'a number from 0 to 1';
    case 'enum':
      return `one of ${kind.values.join(', ')}`;
    case 'list':
      return 'a list of strings';
  }
}

/** Checks one value from a JSON file (already typed) or an env var (a string); returns the value or a problem. */
function coerce(kind: Kind, raw: unknown, fromEnv: boolean, secret = false): { value?: unknown; problem?: string } {
  const shown = secret ? 'a value (not shown: it is secret)' : JSON.stringify(raw);
  const bad = () => ({ problem: `got ${shown}, expected ${describe(kind)}` });
  switch (kind.type) {
    case 'int': {
      let n: unknown = raw;
      if (kind.auto && raw === 'auto') return { value: kind.auto.value() };
      if (fromEnv) n = /^\s*-?\d+\s*$/.test(String(raw)) ? Number(raw) : NaN;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < kind.min || n > kind.max) return bad();
      return { value: n };
    }
    case 'string':
      if (typeof raw !== 'string' || (kind.pattern && !kind.pattern.test(raw))) return bad();
      return { value: raw };
    case 'bool':
      if (typeof raw === 'boolean') return { value: raw };
      if (fromEnv && /^(true|1|yes)$/i.test(String(raw))) return { value: true };
      if (fromEnv && /^(false|0|no)$/i.test(String(raw))) return { value: false };
      return bad();
    case 'ratio': {
      const n = fromEnv ? (/^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(String(raw)) ? Number(raw) : NaN) : raw;
      if (typeof n !== 'number' || !(n >= 0 && n <= 1)) return bad();
      return { value: n };
    }
    case 'enum':
      if (typeof raw !== 'string' || !kind.values.includes(raw)) return bad();
      return { value: raw };
    case 'list':
      if (fromEnv) return { value: String(raw).split(',').map((s) => s.trim()).filter(Boolean) };
      if (!Array.isArray(raw) || raw.some((v) => typeof v !== 'string')) return bad();
      return { value: [...raw] };
  }
}

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) node = node[part] as Record<string, unknown>;
  node[parts[parts.length - 1]!] = value;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks a partial limits object (config `tenants.<name>.limits` or a tenant record); `where` names its source. */
export function validateLimits(raw: unknown, where: string): { limits: Partial<Limits>; problems: string[] } {
  const limits: Partial<Limits> = {};
  const problems: string[] = [];
  if (!isObject(raw)) return { limits, problems: [`${where}: expected an object of limits`] };
  for (const [name, value] of Object.entries(raw)) {
    const setting = limitSettings[name as keyof Limits];
    if (!setting) {
      problems.push(`${where}.${name}: unknown limit (known: ${Object.keys(limitSettings).join(', ')})`);
      continue;
    }
    const { value: v, problem } = coerce(setting.kind, value, false);
    if (problem) problems.push(`${where}.${name}: ${problem}`);
    else limits[name as keyof Limits] = v as number;
  }
  return { limits, problems };
}

/** Applies one JSON layer (default.json or --config file) onto `target`, collecting problems. */
function applyFile(target: Record<string, unknown>, layer: unknown, file: string, problems: string[]): void {
  if (!isObject(layer)) {
    problems.push(`${file}: expected a JSON object at the top level`);
    return;
  }
  const walk = (node: Record<string, unknown>, prefix: string) => {
    for (const [name, value] of Object.entries(node)) {
      const key = prefix ? `${prefix}.${name}` : name;
      if (key === 'tenants') {
        applyTenants(target, value, `${file}:tenants`, problems);
        continue;
      }
      const setting = byKey.get(key);
      if (setting) {
        const { value: v, problem } = coerce(setting.kind, value, false, setting.secret);
        if (problem) problems.push(`${file}:${key}: ${problem}`);
        else setPath(target, key, v);
      } else if (isObject(value) && settings.some((s) => s.key.startsWith(`${key}.`))) {
        walk(value, key);
      } else {
        problems.push(`${file}:${key}: unknown setting`);
      }
    }
  };
  walk(layer, '');
}

function applyTenants(target: Record<string, unknown>, raw: unknown, where: string, problems: string[]): void {
  if (!isObject(raw)) {
    problems.push(`${where}: expected an object { "<tenant>": { "limits": {...} } }`);
    return;
  }
  const tenants = target.tenants as Config['tenants'];
  for (const [name, entry] of Object.entries(raw)) {
    if (!isObject(entry)) {
      problems.push(`${where}.${name}: expected an object with "limits"`);
      continue;
    }
    for (const extra of Object.keys(entry).filter((k) => k !== 'limits')) problems.push(`${where}.${name}.${extra}: unknown setting`);
    if (entry.limits === undefined) continue;
    const { limits, problems: p } = validateLimits(entry.limits, `${where}.${name}.limits`);
    problems.push(...p);
    tenants[name] = { limits: { ...tenants[name]?.limits, ...limits } };
  }
}

function readJson(file: string, problems: string[]): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    problems.push(`${file}: cannot read the config file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    problems.push(`${file}: not valid JSON (${(err as Error).message})`);
    return undefined;
  }
}

/** The value of `--name <value>` / `--name=<value>` in argv ('' when the value is missing), or undefined. */
function flagValue(argv: readonly string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === name) return argv[i + 1] ?? '';
    if (arg.startsWith(`${name}=`)) return arg.slice(name.length + 1);
  }
  return undefined;
}

/** `--config <file>` / `--config=<file>` from argv, or undefined. */
export function configFileArg(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--config') return argv[i + 1] ?? '';
    if (arg.startsWith('--config=')) return arg.slice('--config='.length);
  }
  return undefined;
}

export const defaultConfigFile = path.resolve(__dirname, '..', '..', 'config', 'default.json');

export interface LoadOptions {
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** base of relative paths (dataDir, --config); default process.cwd() */
  cwd?: string;
  /** default.json to start from; tests point this elsewhere only to check error reporting */
  defaults?: string;
}

/** Loads and validates the configuration; throws ConfigError listing every problem. */
export function loadConfig(options: LoadOptions = {}): Config {
  const { argv = [], env = process.env, cwd = process.cwd() } = options;
  const problems: string[] = [];
  const config = {
    server: {},
    limits: {},
    pool: {},
    deploy: {},
    hostnames: {},
    exceptions: {},
    egress: {},
    cluster: {},
    cf: {},
    cache: {},
    cron: {},
    logs: {},
    dashboard: {},
    tracing: {},
    profiles: {},
    store: {},
    tenants: {},
  } as Record<string, unknown>;

  const defaultsFile = options.defaults ?? defaultConfigFile;
  applyFile(config, readJson(defaultsFile, problems), path.relative(cwd, defaultsFile) || defaultsFile, problems);

  const file = configFileArg(argv);
  if (file !== undefined) {
    if (!file) problems.push('--config: expected a file path after --config');
    else {
      const full = path.resolve(cwd, file);
      const layer = readJson(full, problems);
      if (layer !== undefined) applyFile(config, layer, file, problems);
    }
  }

  for (const setting of settings) {
    const raw = env[setting.env];
    if (raw === undefined || raw === '') continue;
    const { value, problem } = coerce(setting.kind, raw, true, setting.secret);
    if (problem) problems.push(`${setting.env} (${setting.key}): ${problem}`);
    else setPath(config, setting.key, value);
  }

  // command-line flags win over everything: `--workers N` (islet serve)
  const workersFlag = flagValue(argv, '--workers');
  if (workersFlag !== undefined) {
    const { value, problem } = coerce(byKey.get('workers')!.kind, workersFlag, true);
    if (problem) problems.push(`--workers: ${problem}`);
    else config.workers = value;
  }

  for (const setting of settings) {
    const [head, tail] = setting.key.split('.');
    const value = tail ? (config[head!] as Record<string, unknown>)[tail] : config[head!];
    if (value === undefined) problems.push(`${setting.key}: missing (set it in ${path.basename(defaultsFile)} or ${setting.env})`);
  }
  const result = config as unknown as Config;
  if (problems.length === 0 && result.limits.wallMs < result.limits.cpuMs) {
    problems.push(`limits.wallMs (${result.limits.wallMs}) must be at least limits.cpuMs (${result.limits.cpuMs}): CPU time cannot exceed wall time`);
  }
  if (problems.length === 0) problems.push(...storeProblems(result), ...cfProblems(result, cwd));
  if (problems.length) throw new ConfigError(problems);
  result.dataDir = path.resolve(cwd, result.dataDir);
  return result;
}

/** The store settings checked at load: a secret key that parses, a CA file that exists. */
function storeProblems(config: Config): string[] {
  const problems: string[] = [];
  if (config.store.secretKey) {
    try {
      parseSecretKeys(config.store.secretKey);
    } catch (error) {
      problems.push(`store.secretKey (ISLET_SECRET_KEY): ${(error as Error).message}`);
    }
  }
  if (config.store.sslCaFile && !fs.existsSync(config.store.sslCaFile)) {
    problems.push(`store.sslCaFile (ISLET_STORE_SSL_CA_FILE): ${config.store.sslCaFile} does not exist`);
  }
  return problems;
}

/**
 * What serving on a shared (PostgreSQL) store needs besides its URL: a secret key (tenant secrets
 * are encrypted with it) and an operator token every node accepts alike (a generated one would
 * differ per node). Throws ConfigError; `islet serve` calls it, store tools need less.
 */
export function checkSharedStore(config: Config): void {
  if (!/^postgres(ql)?:/.test(config.store.url)) return;
  const problems: string[] = [];
  if (!config.store.secretKey) {
    problems.push(
      'store.secretKey (ISLET_SECRET_KEY): required with a postgres:// store.url, ' +
        'it encrypts tenant secrets (`islet store keygen` prints one)',
    );
  }
  if (!config.adminToken) {
    problems.push(
      'adminToken (ISLET_ADMIN_TOKEN): required with a postgres:// store.url: ' +
        'every node must accept the same operator token',
    );
  }
  if (problems.length) throw new ConfigError(problems);
}

/**
 * The limits that apply to one tenant: config defaults, then `tenants.<name>.limits` from the
 * config, then the tenant record's `limits` from the store (set through the admin API). Invalid
 * store values are skipped and reported through `onProblem` so one bad record cannot stop serving.
 */
export function resolveLimits(config: Config, tenant: string, recordLimits?: Record<string, number>, onProblem?: (problem: string) => void): Limits {
  const fromConfig = config.tenants[tenant]?.limits;
  let fromRecord: Partial<Limits> = {};
  if (recordLimits) {
    const { limits, problems } = validateLimits(recordLimits, `tenant ${tenant} limits`);
    fromRecord = limits;
    for (const p of problems) onProblem?.(p);
  }
  return { ...config.limits, ...fromConfig, ...fromRecord };
}
