// Every error class the server raises, in one module with stable codes (undici's
// lib/core/errors.js is the model): callers, the admin API and tests match on `code`, never on
// message text. One naming scheme: `ISLET_<AREA>_<WHAT>` in upper snake case, e.g.
// `ISLET_LIMIT_EXCEEDED`, `ISLET_STORE_NOT_FOUND`, `ISLET_DEPLOY_ROUTE_TAKEN`. An error that the
// admin API answers with also carries its HTTP `status`; the admin API's wire codes (the
// documented `{"error": {"code"}}` values such as `ROUTE_TAKEN`) are derived from the class in
// one place (server/admin/), so renaming a class never changes what clients see.
//
// Messages say what was wrong and where (file:line:column, the option, the field), because many
// of them are shown to tenants or operators as they are.

/** The base of every islet error: a stable code, an optional HTTP status, an optional cause. */
export class IsletError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** true when `error` is an islet error, optionally of one code */
export function isIsletError(error: unknown, code?: string): error is IsletError {
  return error instanceof IsletError && (code === undefined || error.code === code);
}

// Classes are added below by area. Keep each area's classes together, in this file, with a
// comment saying what raises them.

// ---- serving: the front (front/), tenant isolates (tenants/), the sandbox and its bridge (host/) --

/** The limits a request can be cut by (the `islet-error` header and the `limit` of log lines name them). */
export type LimitName =
  | 'cpu'
  | 'wall'
  | 'memory'
  | 'body'
  | 'subrequests'
  | 'logs'
  | 'concurrency'
  /** a WebSocket upgrade while the tenant holds its `webSockets` limit of open sockets */
  | 'websockets';

/** What one request cost (host/types.ts RequestAccount adds the limit that cut it, if any). */
export interface RequestCost {
  cpuNs: bigint;
  wallNs: bigint;
  subrequests: number;
  logBytes: number;
}

/** A limit cut the request (the sandbox, the front's body guard, the pool's concurrency cap). */
export class LimitExceededError extends IsletError {
  declare readonly code: 'ISLET_LIMIT_EXCEEDED';
  /** when a request's `done` fails with this error (cut after its response started): what it cost */
  account?: RequestCost;
  constructor(
    readonly limit: LimitName,
    /** the measured value that crossed the limit (ms for time, bytes or counts otherwise) */
    readonly measured: number,
    /** the tenant's JavaScript stack where it was cut, when known */
    readonly tenantStack?: string,
  ) {
    super('ISLET_LIMIT_EXCEEDED', `${limit} limit exceeded (${measured})`);
  }
}

/** The tenant's handler threw or returned something that is not a Response. */
export class TenantCodeError extends IsletError {
  declare readonly code: 'ISLET_TENANT_ERROR';
  constructor(
    message: string,
    readonly tenantStack?: string,
  ) {
    super('ISLET_TENANT_ERROR', message);
  }
}

/** The sandbox (or its isolate) was disposed under a request: not the function's doing. */
export class SandboxDisposedError extends IsletError {
  declare readonly code: 'ISLET_SANDBOX_DISPOSED';
  constructor(message = 'the sandbox was disposed while the request was in flight') {
    super('ISLET_SANDBOX_DISPOSED', message);
  }
}

/** A tenant's fetch() was refused by the egress guard (loopback, private, link-local... address). */
export class EgressError extends IsletError {
  declare readonly code: 'ISLET_EGRESS_REFUSED';
  constructor(message: string) {
    super('ISLET_EGRESS_REFUSED', message);
  }
}

/**
 * A bridge call the op table refuses: an operation that is not declared (server/bridge/ops.ts)
 * or a call with the wrong number of arguments. Thrown back into the isolate as an exception.
 */
export class BridgeCallError extends IsletError {
  declare readonly code: 'ISLET_BRIDGE_UNKNOWN_OP' | 'ISLET_BRIDGE_ARITY';
  constructor(code: 'ISLET_BRIDGE_UNKNOWN_OP' | 'ISLET_BRIDGE_ARITY', message: string) {
    super(code, message);
  }
}

/** The shim bootstrap (dist/runtime-shims/bootstrap.js) was not built. */
export class BootstrapMissingError extends IsletError {
  declare readonly code: 'ISLET_NO_BOOTSTRAP';
  constructor(message: string, cause: unknown) {
    super('ISLET_NO_BOOTSTRAP', message, { cause });
  }
}

/** crypto.subtle refused an operation; the isolate sees a DOMException of the WebCrypto name. */
export class SubtleRefusedError extends IsletError {
  declare readonly code: 'ISLET_SUBTLE_QUOTA' | 'ISLET_SUBTLE_NOT_SUPPORTED';
  constructor(code: 'ISLET_SUBTLE_QUOTA' | 'ISLET_SUBTLE_NOT_SUPPORTED', message: string) {
    super(code, message);
    this.name = code === 'ISLET_SUBTLE_QUOTA' ? 'QuotaExceededError' : 'NotSupportedError';
  }
}

/**
 * Memory the host would hold for an isolate (keys, compression buffers, subrequest bodies) would
 * pass the isolate's memory limit; the isolate sees a DOMException named QuotaExceededError.
 */
export class HostMemoryError extends IsletError {
  declare readonly code: 'ISLET_HOST_MEMORY';
  constructor(message: string) {
    super('ISLET_HOST_MEMORY', message);
    this.name = 'QuotaExceededError';
  }
}

/** Host work (a WebCrypto or compression job) was dropped: the request that asked for it ended. */
export class HostWorkCancelledError extends IsletError {
  declare readonly code: 'ISLET_HOST_WORK_CANCELLED';
  constructor(message = 'the request that asked for this work is over') {
    super('ISLET_HOST_WORK_CANCELLED', message);
    this.name = 'AbortError';
  }
}

export type DeploymentLoadCode =
  | 'ISLET_MODULE_NOT_FOUND'
  | 'ISLET_STARTUP_TIMEOUT'
  | 'ISLET_STARTUP_MEMORY'
  | 'ISLET_STARTUP_FAILED'
  | 'ISLET_NO_FETCH_HANDLER';

/** A deployment cannot be loaded into an isolate (cold start, or the check at deploy time). */
export class DeploymentLoadError extends IsletError {
  declare readonly code: DeploymentLoadCode;
  constructor(
    code: DeploymentLoadCode,
    message: string,
    readonly tenantStack?: string,
  ) {
    super(code, message);
  }
}

/** The isolate already runs as many requests as the tenant's concurrency limit allows. */
export class ConcurrencyLimitError extends IsletError {
  declare readonly code: 'ISLET_CONCURRENCY_LIMIT';
  constructor(
    readonly tenant: string,
    readonly limit: number,
  ) {
    const message = `tenant ${tenant} already has ${limit} requests in flight (its concurrency limit)`;
    super('ISLET_CONCURRENCY_LIMIT', message);
  }
}

/** The tenant's isolates keep dying: no new one is started before `retryAfterMs` (tenants/backoff.ts). */
export class TenantBackoffError extends IsletError {
  declare readonly code: 'ISLET_TENANT_BACKOFF';
  constructor(
    readonly tenant: string,
    readonly retryAfterMs: number,
    /** isolate deaths in a row that led here */
    readonly deaths: number,
  ) {
    super(
      'ISLET_TENANT_BACKOFF',
      `tenant ${tenant} is backed off for ${retryAfterMs} ms after ${deaths} isolate deaths`,
    );
  }
}

/** A custom route pattern of a deployment is malformed. */
export class RoutePatternError extends IsletError {
  declare readonly code: 'ISLET_BAD_ROUTE';
  constructor(pattern: string, why: string) {
    const expected = 'expected hostname/path-prefix*, e.g. shop.example.com/api/*';
    super('ISLET_BAD_ROUTE', `route '${pattern}': ${why} (${expected})`);
  }
}

/** A small request body did not arrive in time (the front answers 408). */
export class BodyTimeoutError extends IsletError {
  declare readonly code: 'ISLET_BODY_TIMEOUT';
  constructor(message: string) {
    super('ISLET_BODY_TIMEOUT', message);
  }
}

/** The function's status line or headers cannot be sent over HTTP/1.1 (Node refused them). */
export class InvalidResponseError extends IsletError {
  declare readonly code: 'ISLET_INVALID_RESPONSE';
  constructor(why: string) {
    super('ISLET_INVALID_RESPONSE', `the function returned a response that cannot be sent: ${why}`);
  }
}

/** The client closed the connection before the response was written. */
export class ResponseAbortedError extends IsletError {
  declare readonly code: 'ISLET_CLIENT_GONE';
  constructor() {
    super('ISLET_CLIENT_GONE', 'the client closed the connection before the response was written');
  }
}

// ---- control: the admin API, deployments, the store, the cluster channel, configuration, CLI ----
//
// An error the admin API answers with carries the HTTP `status` of its code, fixed in one table
// per class below (a new code is one line there). Which wire code a client sees for it is
// decided in server/admin/errors.ts, and nowhere else.

/** a code -> HTTP status table's codes */
type CodeOf<Table> = Extract<keyof Table, string>;

/** An error whose code fixes the HTTP status the admin API answers it with. */
abstract class StatusError<Code extends string> extends IsletError {
  declare readonly code: Code;
  readonly status: number;
  protected constructor(statuses: Record<Code, number>, code: Code, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.status = statuses[code];
  }
}

const adminStatus = {
  /** no bearer token, or not a valid one */
  ISLET_ADMIN_UNAUTHORIZED: 401,
  /** a deploy token reaching past its own tenant, or an operator-only action */
  ISLET_ADMIN_FORBIDDEN: 403,
  /** too many invalid tokens from one client address (admin/auth-failures.ts) */
  ISLET_ADMIN_TOO_MANY_AUTH_FAILURES: 429,
  ISLET_ADMIN_NOT_FOUND: 404,
  /** the logs route's answer for a tenant that does not exist */
  ISLET_ADMIN_TENANT_NOT_FOUND: 404,
  ISLET_ADMIN_BAD_JSON: 400,
  ISLET_ADMIN_BAD_ENV: 400,
  ISLET_ADMIN_BAD_LIMITS: 400,
  /** a tenant's bindings (PUT /v1/tenants/{t}/bindings): every bad value is named */
  ISLET_ADMIN_BAD_BINDINGS: 400,
  /** a KV call of the admin API refused as the function's would be (key too long, bad expiration...) */
  ISLET_ADMIN_BAD_KV: 400,
  /** the tenant's KV quota (limits.kvBytes, limits.kvKeys) would be passed */
  ISLET_ADMIN_KV_QUOTA: 413,
  /** a KV store, cache or cron scheduler this node does not run */
  ISLET_ADMIN_UNAVAILABLE: 503,
  /** `limit=` of the logs route */
  ISLET_ADMIN_BAD_LOG_LIMIT: 400,
  /** a query option or form field of an upload (bundle=, activate=, compatibility=) */
  ISLET_ADMIN_BAD_OPTION: 400,
  ISLET_ADMIN_BAD_MULTIPART: 400,
  ISLET_ADMIN_UNSUPPORTED_MEDIA_TYPE: 415,
  /** a request body over its cap (JSON bodies 1 MiB, uploads their limit) */
  ISLET_ADMIN_PAYLOAD_TOO_LARGE: 413,
  /** the metrics of this process or of the workers could not be gathered */
  ISLET_ADMIN_METRICS_UNAVAILABLE: 503,
  /** a hostname's ownership check (DNS TXT record or HTTP token) did not find the token */
  ISLET_ADMIN_HOSTNAME_CHECK_FAILED: 409,
  /** a hostname that is not a DNS name a route could use */
  ISLET_ADMIN_BAD_HOSTNAME: 400,
  /** a rollback without an id, and no deployment older than the active one */
  ISLET_ADMIN_NO_PREVIOUS_DEPLOYMENT: 409,
  /** a filter of the logs route (level=, status=, since=...) that does not parse */
  ISLET_ADMIN_BAD_LOG_FILTER: 400,
  /** one token already holds as many open `follow=1` log streams as it may */
  ISLET_ADMIN_TOO_MANY_FOLLOWERS: 429,
  /** a time range or step of the history route that does not parse or is too large */
  ISLET_ADMIN_BAD_RANGE: 400,
  /** the history could not be read (the Prometheus server or the supervisor did not answer) */
  ISLET_ADMIN_HISTORY_UNAVAILABLE: 503,
  /** a CPU profile of the tenant is already running (one at a time) */
  ISLET_ADMIN_PROFILE_RUNNING: 409,
} as const;
export type AdminErrorCode = CodeOf<typeof adminStatus>;

/** A request to the admin API that cannot be served as asked (server/admin/). */
export class ApiError extends StatusError<AdminErrorCode> {
  constructor(code: AdminErrorCode, message: string, options?: { cause?: unknown }) {
    super(adminStatus, code, message, options);
  }
}

const deployStatus = {
  ISLET_DEPLOY_UPLOAD_EMPTY: 400,
  /** files, archive or built deployment over the deployment limits (deploy/limits.ts) */
  ISLET_DEPLOY_UPLOAD_TOO_LARGE: 400,
  /** a path with `..`, a link, a duplicate, a NUL... */
  ISLET_DEPLOY_UPLOAD_BAD_PATH: 400,
  ISLET_DEPLOY_UPLOAD_BAD_ARCHIVE: 400,
  ISLET_DEPLOY_ENTRY_NOT_FOUND: 400,
  ISLET_DEPLOY_BUILD_FAILED: 400,
  ISLET_DEPLOY_UNRESOLVED_IMPORT: 400,
  ISLET_DEPLOY_NO_FETCH_HANDLER: 400,
  /** the deployment's top-level code threw or never finished in a fresh isolate */
  ISLET_DEPLOY_DEPLOYMENT_REJECTED: 400,
  /** a route pattern that does not parse */
  ISLET_DEPLOY_BAD_ROUTE: 400,
  /** wrangler.toml / wrangler.json(c) of an upload: a file that does not parse or a bad value (file, key, expected) */
  ISLET_DEPLOY_BAD_CONFIG: 400,
  /** a route another tenant's active deployment serves (deploy/routes.ts) */
  ISLET_DEPLOY_ROUTE_TAKEN: 409,
  /** more uploads than the deploy gate builds and queues at once, or than one tenant's share of it */
  ISLET_DEPLOY_BUSY: 503,
  /** the build ran past its time or memory limit, or crashed (esbuild's stack overflowed) */
  ISLET_DEPLOY_BUILD_LIMIT: 422,
  /** the tenant keeps as many versions as its quota allows and pruning is off (deploy/quota.ts) */
  ISLET_DEPLOY_QUOTA_VERSIONS: 409,
  /** the tenant's stored bytes, or the deployment's module count, would pass its quota */
  ISLET_DEPLOY_QUOTA_SIZE: 413,
  /** a route on the platform's base domain other than the tenant's own <tenant>.<base> */
  ISLET_DEPLOY_HOSTNAME_RESERVED: 403,
  /** a route on a hostname the operator did not assign to the tenant and the tenant did not prove */
  ISLET_DEPLOY_HOSTNAME_NOT_VERIFIED: 403,
} as const;
export type DeployErrorCode = CodeOf<typeof deployStatus>;

/**
 * The deploy path refused a deployment (server/deploy/). The message says what was wrong and
 * where (file:line:column, importer and specifier, the limit crossed): it is shown to the
 * tenant as it is.
 */
export class DeployError extends StatusError<DeployErrorCode> {
  constructor(code: DeployErrorCode, message: string, options?: { cause?: unknown }) {
    super(deployStatus, code, message, options);
  }
}

const storeStatus = {
  ISLET_STORE_NOT_FOUND: 404,
  ISLET_STORE_INVALID_NAME: 400,
  /** deleting the deployment a tenant serves */
  ISLET_STORE_ACTIVE_DEPLOYMENT: 409,
  ISLET_STORE_CONFLICT: 409,
  /** the store's own files disagree with each other (a blob missing, a hash wrong) */
  ISLET_STORE_CORRUPT: 500,
  /** another tenant's active deployment serves the route, or one overlapping it (claimed at activation) */
  ISLET_STORE_ROUTE_TAKEN: 409,
  /** the store cannot be reached (PostgreSQL down, the write lock held too long): retry later */
  ISLET_STORE_UNAVAILABLE: 503,
} as const;
export type StoreErrorCode = CodeOf<typeof storeStatus>;

/** Where durable state lives refused or failed an operation (server/store/). */
export class StoreError extends StatusError<StoreErrorCode> {
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(storeStatus, code, message, options);
  }
}

export type ClusterErrorCode =
  /** the other side did not answer a request within its time (server/cluster/messages.ts) */
  | 'ISLET_CLUSTER_TIMEOUT'
  /** the other process exited or its channel closed before it answered */
  | 'ISLET_CLUSTER_GONE'
  /** the other side's handler threw, or it has none for the request */
  | 'ISLET_CLUSTER_FAILED'
  /** too many requests already wait for answers: the channel refuses to queue more */
  | 'ISLET_CLUSTER_BUSY'
  /** a primary-only or worker-only call made in the wrong kind of process */
  | 'ISLET_CLUSTER_WRONG_PROCESS';

/** The IPC channel between the supervisor and its workers could not deliver or answer (server/cluster/). */
export class ClusterError extends IsletError {
  declare readonly code: ClusterErrorCode;
  constructor(code: ClusterErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The settings (config/default.json, --config, ISLET_* variables) are invalid: every problem, listed. */
export class ConfigError extends IsletError {
  declare readonly code: 'ISLET_CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super('ISLET_CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

export type CliErrorCode =
  /** arguments, flags or the admin target given wrong */
  | 'ISLET_CLI_USAGE'
  /** the admin API could not be reached or refused the request */
  | 'ISLET_CLI_ADMIN_FAILED'
  /** `islet dev <folder>`: the folder does not exist */
  | 'ISLET_CLI_NO_FOLDER'
  /** `islet dev --port N`: something else listens there */
  | 'ISLET_CLI_PORT_IN_USE';

/** A mistake of the person at the terminal, or an answer they must read: printed as it is, without a stack. */
export class CliError extends IsletError {
  declare readonly code: CliErrorCode;
  constructor(message: string, code: CliErrorCode = 'ISLET_CLI_USAGE') {
    super(code, message);
  }
}
