// The settings of islet's protections against hostile tenants (issue 16): per-client connection
// caps, the back-off of tenants whose isolates keep dying, builds and storage quotas, custom
// hostname ownership, and the bounds of tenant exception text. Declared here, in the shape of
// config.ts's table, and spliced into it where each group belongs.
import type { Setting } from './config-types';

const MAX_BYTES = Number.MAX_SAFE_INTEGER;
const int = (min: number, max: number, unit?: string) => ({
  type: 'int' as const,
  min,
  max,
  ...(unit ? { unit } : {}),
});

export const protectionSettings: { server: Setting[]; pool: Setting[]; rest: Setting[] } = {
  server: [
    {
      key: 'server.maxConnectionsPerClient',
      env: 'ISLET_MAX_CONNECTIONS_PER_CLIENT',
      kind: int(0, 1_000_000),
      doc:
        'connections one client address may hold on the tenant port; past it new ones are closed ' +
        'at once (0: no cap)',
    },
  ],
  pool: [
    {
      key: 'pool.backoffAfter',
      env: 'ISLET_BACKOFF_AFTER',
      kind: int(1, 1000),
      doc: "isolate deaths in a row (failed starts, memory kills) before a tenant's new isolates are backed off",
    },
    {
      key: 'pool.backoffBaseMs',
      env: 'ISLET_BACKOFF_BASE_MS',
      kind: int(1, 3_600_000, 'ms'),
      doc: 'the first back-off; each further death doubles it',
    },
    {
      key: 'pool.backoffMaxMs',
      env: 'ISLET_BACKOFF_MAX_MS',
      kind: int(1, 86_400_000, 'ms'),
      doc: 'the longest back-off',
    },
  ],
  rest: [
    {
      key: 'deploy.concurrency',
      env: 'ISLET_DEPLOY_CONCURRENCY',
      kind: int(1, 256),
      doc: 'uploads built at once per process',
    },
    {
      key: 'deploy.queue',
      env: 'ISLET_DEPLOY_QUEUE',
      kind: int(0, 100_000),
      doc: 'uploads waiting beyond those (503 BUSY past it)',
    },
    {
      key: 'deploy.queuePerTenant',
      env: 'ISLET_DEPLOY_QUEUE_PER_TENANT',
      kind: int(0, 100_000),
      doc: 'uploads of one tenant waiting beyond its running one (its share; past it 503 BUSY for that tenant only)',
    },
    {
      key: 'deploy.buildTimeoutMs',
      env: 'ISLET_BUILD_TIMEOUT_MS',
      kind: int(100, 3_600_000, 'ms'),
      doc: 'wall time of one build (422 BUILD_LIMIT_EXCEEDED past it)',
    },
    {
      key: 'deploy.buildMemoryMb',
      env: 'ISLET_BUILD_MEMORY_MB',
      kind: int(64, 65_536, 'MB'),
      doc: 'memory of each process of one build (422 BUILD_LIMIT_EXCEEDED past it)',
    },
    {
      key: 'deploy.maxVersions',
      env: 'ISLET_MAX_VERSIONS',
      kind: int(1, 1_000_000),
      doc: 'stored versions per tenant',
    },
    {
      key: 'deploy.maxStoredBytes',
      env: 'ISLET_MAX_STORED_BYTES',
      kind: int(1024, MAX_BYTES, 'bytes'),
      doc: 'bytes of stored modules and source maps per tenant, over every version',
    },
    {
      key: 'deploy.maxModules',
      env: 'ISLET_MAX_MODULES',
      kind: int(1, 1_000_000),
      doc: 'modules in one deployment (413 QUOTA_EXCEEDED past it)',
    },
    {
      key: 'deploy.quotaPolicy',
      env: 'ISLET_QUOTA_POLICY',
      kind: { type: 'enum', values: ['prune', 'refuse'] },
      doc: 'over the version or bytes quota: prune the oldest inactive versions, or refuse (409/413 QUOTA_EXCEEDED)',
    },
    {
      key: 'hostnames.verification',
      env: 'ISLET_HOSTNAME_VERIFICATION',
      kind: { type: 'enum', values: ['none', 'dns', 'http'] },
      doc: 'how a tenant proves a custom hostname: none (only the operator assigns), a DNS TXT record, an HTTP token',
    },
    {
      key: 'hostnames.httpPort',
      env: 'ISLET_HOSTNAME_HTTP_PORT',
      kind: int(1, 65535),
      doc: 'port the HTTP ownership token is fetched from',
    },
    {
      key: 'hostnames.checkTimeoutMs',
      env: 'ISLET_HOSTNAME_CHECK_TIMEOUT_MS',
      kind: int(100, 600_000, 'ms'),
      doc: 'time one ownership check (DNS or HTTP) may take',
    },
    {
      key: 'exceptions.maxBytes',
      env: 'ISLET_EXCEPTION_MAX_BYTES',
      kind: int(256, 65_536, 'bytes'),
      doc: "bytes kept of a tenant exception's message and of its stack, before source mapping and logging",
    },
    {
      key: 'exceptions.maxFrames',
      env: 'ISLET_EXCEPTION_MAX_FRAMES',
      kind: int(1, 10_000),
      doc: 'stack frames kept of a tenant exception or limit cut',
    },
  ],
};
