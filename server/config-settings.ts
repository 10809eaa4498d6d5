// Every setting, declared once: its path in the config object, its environment variable, the
// values it accepts and what it does. Validation, error messages and config/README.md all read
// this table. The process, serving, limits, pool and request.cf settings are here; the
// operations ones (logs, dashboard, tracing, cache, cron, cluster, nodes, store) are in
// config-settings-operations.ts.
import os from 'node:os';
import { protectionSettings } from './config-protections';
import type { Kind, Limits, Setting } from './config-types';
import { operationSettings } from './config-settings-operations';

const MAX_BYTES = Number.MAX_SAFE_INTEGER;
const hostnamePattern = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const headerNamePattern = /^$|^[!#$%&'*+.^_`|~0-9a-z-]+$/;
const bindPattern = /^[0-9a-fA-F:.]+$|^[a-z0-9.-]+$/;

const port = (min = 0): Kind => ({ type: 'int', min, max: 65535 });

/** Limit settings: shared by the global defaults and per-tenant overrides. */
export const limitSettings: Record<keyof Limits, { env: string; kind: Kind & { type: 'int' }; doc: string }> = {
  cpuMs: {
    env: 'ISLET_CPU_LIMIT_MS',
    kind: { type: 'int', min: 1, max: 600_000, unit: 'ms' },
    doc: 'CPU time one request may spend inside the isolate',
  },
  wallMs: {
    env: 'ISLET_WALL_LIMIT_MS',
    kind: { type: 'int', min: 1, max: 3_600_000, unit: 'ms' },
    doc: 'wall time of one request, waitUntil included',
  },
  memoryMb: {
    env: 'ISLET_MEMORY_LIMIT_MB',
    kind: { type: 'int', min: 8, max: 65_536, unit: 'MB' },
    doc: 'heap of one tenant isolate',
  },
  requestBodyBytes: {
    env: 'ISLET_REQUEST_BODY_LIMIT_BYTES',
    kind: { type: 'int', min: 0, max: MAX_BYTES, unit: 'bytes' },
    doc: 'request body size (413 past it)',
  },
  responseBodyBytes: {
    env: 'ISLET_RESPONSE_BODY_LIMIT_BYTES',
    kind: { type: 'int', min: 0, max: MAX_BYTES, unit: 'bytes' },
    doc: 'response body size a function may produce',
  },
  subrequests: {
    env: 'ISLET_SUBREQUEST_LIMIT',
    kind: { type: 'int', min: 0, max: 100_000 },
    doc: 'fetch() calls per request',
  },
  subrequestTimeoutMs: {
    env: 'ISLET_SUBREQUEST_TIMEOUT_MS',
    kind: { type: 'int', min: 1, max: 3_600_000, unit: 'ms' },
    doc: 'time limit of one fetch()',
  },
  subrequestResponseBytes: {
    env: 'ISLET_SUBREQUEST_RESPONSE_LIMIT_BYTES',
    kind: { type: 'int', min: 0, max: MAX_BYTES, unit: 'bytes' },
    doc: 'body size of one fetch() response',
  },
  logBytes: {
    env: 'ISLET_LOG_LIMIT_BYTES',
    kind: { type: 'int', min: 0, max: MAX_BYTES, unit: 'bytes' },
    doc: 'console output per request',
  },
  concurrency: {
    env: 'ISLET_CONCURRENCY_LIMIT',
    kind: { type: 'int', min: 1, max: 1_000_000 },
    doc: 'requests in flight in one isolate (503 past it)',
  },
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
  kvBytes: {
    env: 'ISLET_KV_LIMIT_BYTES',
    kind: { type: 'int', min: 0, max: MAX_BYTES, unit: 'bytes' },
    doc: 'KV bytes a tenant stores (keys, values, metadata)',
  },
  kvKeys: {
    env: 'ISLET_KV_LIMIT_KEYS',
    kind: { type: 'int', min: 0, max: 1_000_000_000 },
    doc: 'KV keys a tenant stores',
  },
  bindingOps: {
    env: 'ISLET_BINDING_OPS_LIMIT',
    kind: { type: 'int', min: 0, max: 1_000_000 },
    doc: 'KV and Cache API operations per request or cron run',
  },
  cacheBytes: {
    env: 'ISLET_CACHE_LIMIT_BYTES',
    kind: { type: 'int', min: 0, max: MAX_BYTES, unit: 'bytes' },
    doc: "bytes of a tenant's cached responses on this node's disk",
  },
  cronCpuMs: {
    env: 'ISLET_CRON_CPU_LIMIT_MS',
    kind: { type: 'int', min: 1, max: 600_000, unit: 'ms' },
    doc: 'CPU time of one cron run',
  },
  cronWallMs: {
    env: 'ISLET_CRON_WALL_LIMIT_MS',
    kind: { type: 'int', min: 1, max: 86_400_000, unit: 'ms' },
    doc: 'wall time of one cron run, waitUntil included',
  },
};

export const settings: Setting[] = [
  { key: 'port', env: 'ISLET_PORT', kind: port(), doc: 'tenant traffic port (0: any free port)' },
  {
    key: 'host',
    env: 'ISLET_HOST',
    kind: { type: 'string', pattern: bindPattern, expected: 'an IP address or host name to bind' },
    doc: 'tenant traffic address',
  },
  { key: 'adminPort', env: 'ISLET_ADMIN_PORT', kind: port(), doc: 'admin API port' },
  {
    key: 'adminHost',
    env: 'ISLET_ADMIN_HOST',
    kind: { type: 'string', pattern: bindPattern, expected: 'an IP address or host name to bind' },
    doc: 'admin API address',
  },
  {
    key: 'metricsPort',
    env: 'ISLET_METRICS_PORT',
    kind: port(),
    doc: 'unauthenticated /metrics on ' + '127.0.0.1 (0: off)',
  },
  {
    key: 'baseDomain',
    env: 'ISLET_BASE_DOMAIN',
    kind: { type: 'string', pattern: hostnamePattern, expected: 'a lower-case DNS name such as example.com' },
    doc: 'tenant t answers on t.<baseDomain>',
  },
  {
    key: 'dataDir',
    env: 'ISLET_DATA_DIR',
    kind: { type: 'string', pattern: /./, expected: 'a directory path' },
    doc: 'where the store keeps deployments',
  },
  { key: 'adminToken', env: 'ISLET_ADMIN_TOKEN', kind: { type: 'string' }, doc: 'operator token (empty: generated)' },
  {
    key: 'workers',
    env: 'ISLET_WORKERS',
    kind: {
      type: 'int',
      min: 0,
      max: 256,
      auto: { doc: 'the number of cores', value: () => os.availableParallelism() },
    },
    doc:
      'worker processes under a supervisor (0: serve in this one process, no supervisor); `islet ' +
      'serve --workers N` overrides',
  },
  {
    key: 'logLevel',
    env: 'ISLET_LOG_LEVEL',
    kind: { type: 'enum', values: ['debug', 'info', 'warn', 'error'] },
    doc: 'server log level',
  },
  { key: 'logRequests', env: 'ISLET_LOG_REQUESTS', kind: { type: 'bool' }, doc: 'one JSON log line per request' },
  {
    key: 'logs.stdoutBufferBytes',
    env: 'ISLET_LOG_BUFFER_BYTES',
    kind: { type: 'int', min: 4096, max: 1 << 30, unit: 'bytes' },
    doc: 'log output a process keeps for a stdout reader that lags; past it lines are dropped (counted)',
  },
  {
    key: 'server.maxHeaderBytes',
    env: 'ISLET_MAX_HEADER_BYTES',
    kind: { type: 'int', min: 1024, max: 1_048_576, unit: 'bytes' },
    doc: 'request line + headers size (431 past it)',
  },
  {
    key: 'server.headersTimeoutMs',
    env: 'ISLET_HEADERS_TIMEOUT_MS',
    kind: { type: 'int', min: 100, max: 600_000, unit: 'ms' },
    doc: 'time a client has to send its headers',
  },
  {
    key: 'server.keepAliveTimeoutMs',
    env: 'ISLET_KEEP_ALIVE_TIMEOUT_MS',
    kind: { type: 'int', min: 0, max: 600_000, unit: 'ms' },
    doc: 'idle keep-alive connection timeout',
  },
  {
    key: 'server.shutdownTimeoutMs',
    env: 'ISLET_SHUTDOWN_TIMEOUT_MS',
    kind: { type: 'int', min: 0, max: 600_000, unit: 'ms' },
    doc: 'how long SIGTERM waits for in-flight requests',
  },
  ...protectionSettings.server,
  ...Object.entries(limitSettings).map(([name, s]) => ({
    key: `limits.${name}`,
    env: s.env,
    kind: s.kind,
    doc: s.doc,
  })),
  {
    key: 'pool.maxIsolates',
    env: 'ISLET_POOL_MAX_ISOLATES',
    kind: { type: 'int', min: 1, max: 1_000_000 },
    doc: 'warm isolates kept (least recently used evicted)',
  },
  {
    key: 'pool.maxMemoryMb',
    env: 'ISLET_POOL_MAX_MEMORY_MB',
    kind: { type: 'int', min: 16, max: 1_048_576, unit: 'MB' },
    doc: 'total heap of warm isolates',
  },
  {
    key: 'pool.idleTimeoutS',
    env: 'ISLET_POOL_IDLE_TIMEOUT_S',
    kind: { type: 'int', min: 1, max: 86_400 * 30, unit: 's' },
    doc: 'an isolate idle this long is disposed',
  },
  {
    key: 'pool.sampleIntervalS',
    env: 'ISLET_POOL_SAMPLE_INTERVAL_S',
    kind: { type: 'int', min: 1, max: 3600, unit: 's' },
    doc: 'how often heap sizes are sampled and idle isolates swept',
  },
  {
    key: 'pool.startupTimeoutMs',
    env: 'ISLET_STARTUP_TIMEOUT_MS',
    kind: { type: 'int', min: 1, max: 600_000, unit: 'ms' },
    doc: "time a deployment's top-level code may run",
  },
  {
    key: 'pool.drainTimeoutMs',
    env: 'ISLET_DRAIN_TIMEOUT_MS',
    kind: { type: 'int', min: 0, max: 3_600_000, unit: 'ms' },
    doc: 'longest an old isolate drains after a redeploy',
  },
  ...protectionSettings.pool,
  ...protectionSettings.rest,
  {
    key: 'egress.allow',
    env: 'ISLET_EGRESS_ALLOW',
    kind: { type: 'list' },
    doc: 'private hosts/IPs/CIDRs tenant fetch() may reach (comma-separated in env)',
  },
  {
    key: 'trustedProxies',
    env: 'ISLET_TRUSTED_PROXIES',
    kind: { type: 'list' },
    doc:
      'addresses or CIDRs of front proxies whose request.cf headers are believed ' +
      '(comma-separated in env; empty: none)',
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
  ...operationSettings,
];
