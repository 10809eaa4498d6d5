// The contract between the tenant layer (server/tenants) and the sandbox that runs one tenant
// deployment inside an isolate (server/host + runtime-shims). tenants/ owns isolates, the pool
// and module loading; host/ owns everything that crosses the bridge: the shim bootstrap, the
// request/response protocol, fetch, timers, console and per-request limits while JS runs.
import type { Config, RequestLimits } from '../config';
import type { LimitExceededError, LimitName, RequestCost } from '../errors';
import type { Context, Isolate, Reference } from './isolate-api';
import type { WebSocket as NodeWebSocket } from 'ws';
import type { WebSocketBudget } from './websockets/budget';
import type { TenantBindings } from '../bindings/context';
import type { RequestTrace } from '../observe/tracing/types';
import type { CfFlat } from '../bridge/ops';

export type { LimitName, RequestLimits };

/** Which destinations tenant fetch() may reach: `allow` lists host names, IPs or CIDRs allowed although inner. */
export type EgressPolicy = Config['egress'];

export interface TenantLogRecord {
  level: 'debug' | 'info' | 'log' | 'warn' | 'error';
  message: string;
  tenant: string;
  deployment: string;
  /** absent for output of top-level code (module evaluation) */
  requestId?: string;
}

/** A request as it enters the sandbox. Header names are lower-case; pairs are flat: [n0, v0, n1, v1...]. */
export interface SandboxRequest {
  id: string;
  method: string;
  /** the full original URL, scheme and host included */
  url: string;
  headers: string[];
  /** null for no body; bytes: the whole body, already read; otherwise pulled chunk by chunk as the function reads it */
  body: Uint8Array | AsyncIterable<Uint8Array> | null;
  /** request.cf's values (server/front/cf/); absent: an empty request.cf */
  cf?: CfFlat;
  /** service binding calls this request is nested in (absent: 0, it came from the network or a trigger) */
  depth?: number;
  /** a cron run rather than an HTTP request: the `scheduled` handler is called */
  scheduled?: { cron: string; scheduledTime: number };
  /** what the function asked for during the request; the caller reads it once the request failed */
  flags?: RequestFlags;
  /** a service binding call: the flags of the request from the network (or trigger) the chain started with */
  root?: RequestFlags;
  /** the request's trace when tracing is on (observe/tracing/): fetch and binding ops make child spans */
  trace?: RequestTrace;
}

/** set by the function while it runs (bindings/ops.ts) */
export interface RequestFlags {
  /** ctx.passThroughOnException(): an uncaught exception passes the request to its origin */
  passThrough?: boolean;
  /** controller.noRetry(): a failed cron run is not run again */
  noRetry?: boolean;
  /** (on the root request) a service binding loop was cut somewhere in the chain of calls it started */
  loop?: boolean;
}

export interface SandboxResponse {
  status: number;
  statusText: string;
  headers: string[];
  /** null: empty body; Uint8Array: whole body; AsyncIterable: pulled from the isolate one chunk per next() */
  body: Uint8Array | AsyncIterable<Uint8Array> | null;
  /** a 101 that returned a WebSocket: the front upgrades the client's connection and hands it over */
  webSocket?: UpgradeSocket;
}

/** The isolate's WebSocket a 101 answer returned, waiting for the client's upgraded connection. */
export interface UpgradeSocket {
  /** the connection is upgraded (`ws` framing): messages flow both ways from now on */
  attach(ws: NodeWebSocket): void;
  /** the upgrade did not happen (not a WebSocket request, client gone): the isolate's end sees a close */
  refuse(reason: string): void;
}

/** What a sandbox's WebSockets report to, and draw on, beyond the sandbox (tenants/tenant-isolate.ts). */
export interface SocketHooks {
  /** the tenant's sockets and messages per second in this process, shared with its other isolates */
  budget: WebSocketBudget;
  /** this sandbox's open sockets changed (an isolate holding any is busy: not evicted for idleness) */
  openChanged?(open: number): void;
  /** a limit cut a WebSocket session: counted and logged as a request's cut is */
  cut?(error: LimitExceededError, requestId: string): void;
}

/** What one request cost, final once `done` settles. */
export interface RequestAccount extends RequestCost {
  /** set when a limit cut the request (possibly after the response started) */
  limit?: LimitExceededError;
}

export interface Dispatch {
  /** settles when the function's Response (status + headers) is ready */
  response: Promise<SandboxResponse>;
  /** settles when the body has been fully pulled (or abandoned) and every waitUntil settled or was cut */
  done: Promise<RequestAccount>;
  /**
   * Set when the request was over before dispatch returned (a handler that answered synchronously
   * with a whole body and left nothing running): both outcomes, so the caller can write the
   * answer at once instead of waiting on `response` and `done`, which then need not be read.
   */
  sync?: { response: SandboxResponse & { body: Uint8Array | null }; account: RequestAccount };
}

export interface SandboxOptions {
  tenant: string;
  deployment: string;
  /** tenant env vars and secrets (and declared vars, which may be JSON values), visible to the function as `env` */
  env: Record<string, unknown>;
  limits: RequestLimits;
  egress: EgressPolicy;
  log(record: TenantLogRecord): void;
  /** a fetch() made by the function finished (status 0: refused or failed) */
  onSubrequest?(status: number): void;
  /** the tenant's WebSocket budget and reports (absent: a budget of this sandbox's own, from `limits`) */
  webSockets?: SocketHooks;
  /** KV namespaces, caches and services the tenant's bindings reach (absent: none) */
  bindings?: TenantBindings;
  /** announce the context to the isolate's inspector (islet dev --inspect; the isolate has one) */
  inspector?: boolean;
}

/**
 * One tenant deployment's context inside an isolate, with the host side of the bridge: tenants/
 * loads the deployment's code into `context`, binds its handler, then serves requests through it.
 */
export interface Sandbox {
  readonly context: Context;
  /** binds the handler of an evaluated ES module deployment (its namespace); throws when there is no fetch handler */
  bindModule(namespace: Reference): void;
  /** binds the `fetch` listener a classic script registered; throws when there is none */
  bindScript(): void;
  /** runs one request, under `limits` (default: the sandbox's) */
  dispatch(request: SandboxRequest, limits?: RequestLimits): Dispatch;
  /** requests not over yet */
  readonly inFlight: number;
  /** WebSockets open now (accepted and outbound); absent: a sandbox without WebSockets */
  readonly openWebSockets?: number;
  /**
   * Closes every WebSocket with `code` (1001 going away, 1012 service restart), letting close
   * handshakes and the function's close handlers run; resolves once all are closed or after
   * `timeoutMs` (the rest are cut).
   */
  closeWebSockets?(code: number, reason: string, timeoutMs: number): Promise<void>;
  dispose(): void;
}

export type CreateSandbox = (isolate: Isolate, options: SandboxOptions) => Sandbox | Promise<Sandbox>;
