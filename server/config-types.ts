// The shapes of islet's configuration: the Config object loadConfig returns (server/config.ts),
// per-tenant limits, and how one setting is declared (server/config-settings.ts).

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
  /** this node among many sharing a PostgreSQL store (server/nodes/) */
  nodes: {
    /** '' : an id made once and kept in the data folder (`node-id`) */
    id: string;
    /** how other machines and operators reach this node; '' : <hostname>:<port> */
    address: string;
    /** how often the node writes its heartbeat (ms) */
    heartbeatMs: number;
    /** heartbeats a node may miss before it counts as not live */
    liveBeats: number;
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
    /** changes younger than this stay in a shared store's change log (s) */
    changeRetentionS: number;
    /** the most this node keeps in its node cache of module blobs and code caches (MB) */
    nodeCacheMb: number;
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
