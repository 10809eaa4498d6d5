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
export type LimitName = 'cpu' | 'wall' | 'memory' | 'body' | 'subrequests' | 'logs' | 'concurrency';

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
