// The tenant-traffic server. node:http is used directly rather than through hono's node adapter:
// the adapter builds a Web Request and Response per request on the Node side, which this path
// does not need (the request crosses into the isolate as flat pairs and a body stream, and the
// response comes back the same way); bench/serve measures both (see config/README.md, "Serving").
//
// A request is one Exchange (front/exchange.ts), moved along: target and Host -> host name
// (front/host.ts) -> tenant (router) -> tenant state (directory, cached) -> isolate (pool, warm
// or cold) -> dispatch into the sandbox -> response written with backpressure -> once `done`
// settles (body pulled, waitUntil over), accounting and the request log line. A failure on the
// way is classified (tenants/limits.ts) and answered with the status front/status.ts gives it.
// An upgrade request (node:http's 'upgrade' event) takes the same path with a response written on
// its socket; a 101 with a WebSocket hands the socket over (front/upgrade.ts).
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Config } from '../config';
import { BodyTimeoutError, InvalidResponseError } from '../errors';
import type { Logger } from '../observe/server-log';
import type { Dispatch } from '../host/types';
import type { Accounting } from '../tenants/accounting';
import type { TenantObserver } from '../tenants/observer';
import type { TenantDirectory, TenantState } from '../tenants/directory';
import { classifyFailure, type Failure } from '../tenants/limits';
import type { IsolatePool } from '../tenants/pool';
import { ConnectionCap } from './connection-cap';
import type { QuarantinedTenants } from '../tenants/quarantined';
import type { TenantWebSockets } from '../tenants/web-sockets';
import type { OriginPassThrough } from '../bindings/pass-through';
import { requestSpan } from '../observe/tracing/request-span';
import type { Tracing } from '../observe/tracing/types';
import { CfPolicy } from './cf/policy';
import { Exchange } from './exchange';
import { LogBudget } from './log-budget';
import { requestTarget } from './host';
import { hasBody, limitedBody, nextRequestId, readSmallBody, smallBodyLength } from './request';
import { sendPlain } from './response';
import type { TenantRouter } from './router';
import { boundMessage } from '../tenants/tenant-text';
import type { RequestTracker } from './tracker';
import { asResponseBodyCut, failureStatus, limitMessages } from './status';
import { handshakeProblem, upgradeResponse, wantsWebSocket, type Upgrade } from './upgrade';

export interface FrontDeps {
  config: Config;
  router: TenantRouter;
  directory: TenantDirectory;
  pool: IsolatePool;
  accounting: Accounting;
  logger: Logger;
  /** counts connections refused over the per-client cap */
  observer?: Pick<TenantObserver, 'connectionRefused'>;
  /** told of every request in flight (under the supervisor: the worker's crash journal) */
  tracker?: RequestTracker;
  /** tenants refused for now because worker processes died running their code */
  quarantined?: QuarantinedTenants;
  /** the tenants' WebSocket budgets: an upgrade past a tenant's socket limit gets 503 before it runs */
  webSockets?: TenantWebSockets;
  /** where a request goes when its function throws after ctx.passThroughOnException() */
  passThrough?: OriginPassThrough;
  /** OpenTelemetry traces (null or absent: off, and requests carry no trace) */
  tracing?: Tracing | null;
  /** what request.cf holds (default: from config, without GeoIP databases, which open asynchronously) */
  cf?: CfPolicy;
}

const invalidResponse =
  'the function returned an invalid response (details are in the server log under this request id)';
const noDeployment = (tenant: string) =>
  `no function is deployed for '${tenant}' (no such tenant, or no active deployment)`;

export class FrontServer {
  readonly server: http.Server;
  readonly #deps: FrontDeps;
  /** log lines a client can cause, rate-limited */
  readonly #quiet: LogBudget;
  /** the base domain, lower case */
  readonly #base: string;
  readonly #cf: CfPolicy;
  #inFlight = 0;
  #idle?: () => void;
  #closing = false;

  constructor(deps: FrontDeps) {
    this.#deps = deps;
    this.#quiet = new LogBudget(deps.logger);
    this.#base = deps.config.baseDomain.toLowerCase();
    this.#cf = deps.cf ?? new CfPolicy(deps.config);
    const { server: s } = deps.config;
    this.server = http.createServer(
      {
        maxHeaderSize: s.maxHeaderBytes,
        headersTimeout: s.headersTimeoutMs,
        keepAliveTimeout: s.keepAliveTimeoutMs,
        requestTimeout: 0,
      },
      (req, res) => this.#handle(req, res),
    );
    this.server.keepAliveTimeout = s.keepAliveTimeoutMs;
    // per-client connection cap; under the supervisor it is applied there too, to the whole port
    const cap = new ConnectionCap(s.maxConnectionsPerClient ?? 0, () => {
      deps.observer?.connectionRefused?.();
      this.#quiet.log('info', 'connection-cap', 'connections refused: a client holds too many', {
        max: s.maxConnectionsPerClient,
      });
    });
    this.server.prependListener('connection', (socket: Socket) => cap.admit(socket));
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => clientError(err, socket));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head));
  }

  listen(port: number, host: string): Promise<{ port: number; host: string }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const address = this.server.address() as { port: number; address: string };
        resolve({ port: address.port, host: address.address });
      });
    });
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Stops accepting, lets in-flight requests finish for up to `timeoutMs`, then cuts what is left.
   * `drained` runs once the requests are done and before the server is waited for: upgraded
   * connections (WebSockets) are no request, and the server only closes once they are closed too.
   */
  async close(timeoutMs: number, drained?: () => Promise<void>): Promise<void> {
    this.#closing = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    if (this.#inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        timer.unref();
        this.#idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.server.closeAllConnections();
    await drained?.();
    await closed;
  }

  /** an upgrade request: the ordinary path, with its answer written on the socket it arrived on */
  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const upgrade: Upgrade = { socket, head };
    const res = upgradeResponse(req, upgrade);
    const problem = wantsWebSocket(req) ? handshakeProblem(req) : null;
    if (problem !== null || this.#closing) {
      const status = problem !== null ? 400 : 503;
      sendPlain(res, status, nextRequestId(), problem ?? 'the server is shutting down; retry shortly');
      return;
    }
    this.#handle(req, res, upgrade);
  }

  /** a new request: where it goes (host + path -> tenant) and the tenant's state */
  #handle(req: IncomingMessage, res: ServerResponse, upgrade?: Upgrade): void {
    const x = new Exchange(req, res, nextRequestId());
    const tracker = this.#deps.tracker;
    if (tracker) {
      const slot = tracker.begin(req);
      if (slot >= 0) x.track(tracker, slot);
    }
    if (upgrade) x.upgrade = upgrade;
    this.#inFlight++;
    res.once('close', () => {
      x.untrack();
      if (--this.#inFlight === 0) this.#idle?.();
    });
    // Keep-alive connections must not keep a closing server alive.
    if (this.#closing) res.shouldKeepAlive = false;
    this.#route(x);
    // still unanswered once this turn's work is done: it waits (an isolate starting, its handler
    // awaiting), so the tracker keeps what it needs to replay it if the worker dies meanwhile
    x.parkIfUnanswered();
  }

  /** host + path -> tenant -> its state, then #serve (or islet's own answer on the way) */
  #route(x: Exchange): void {
    const { req } = x;
    const target = requestTarget(req.url ?? '/', req.headers.host);
    if ('problem' in target) {
      // a client's bad input: the client is told; the log hears of it rarely, and only at debug
      this.#quiet.log('debug', 'bad-target', 'request refused: bad target or Host', {
        requestId: x.requestId,
        problem: target.problem,
      });
      this.#unmatched(x, 400, target.problem);
      return;
    }
    x.routed(target);
    const q = target.path.indexOf('?');
    const path = q === -1 ? target.path : target.path.slice(0, q);
    const match = this.#deps.router.match(target.hostname, path);
    if (match?.pattern) x.route = match.pattern;
    if (!match) {
      const base = this.#deps.config.baseDomain;
      const where = `tenants answer on <tenant>.${base} or on the routes their deployments declare`;
      this.#unmatched(x, 404, `no function is deployed at ${target.hostname}${path}: ${where}`);
      return;
    }
    x.forTenant(match.tenant);
    const quarantinedForS = this.#deps.quarantined?.retryAfterS(match.tenant) ?? 0;
    if (quarantinedForS > 0) {
      x.sendQuarantined(match.tenant, quarantinedForS);
      return;
    }
    const state = this.#deps.directory.get(match.tenant);
    if (state === null) {
      this.#unmatched(x, 404, noDeployment(match.tenant));
    } else if (state instanceof Promise) {
      state.then(
        (s) => (s ? this.#serve(x, s) : this.#unmatched(x, 404, noDeployment(match.tenant))),
        (err: Error) => {
          // once per request would let a flood of requests write the log: a few lines per window
          this.#quiet.log('error', 'store-read', 'reading tenant from the store failed', {
            tenant: match.tenant,
            requestId: x.requestId,
            error: err.message,
          });
          x.sendPlain(503, 'the function is temporarily unavailable');
        },
      );
    } else {
      this.#serve(x, state);
    }
  }

  /**
   * A request no function answers (a bad Host, no route, no deployment): islet's own answer,
   * counted under the metrics' NO_TENANT label, never under the name the client sent (which would
   * let anyone mint tenant series by inventing host names).
   */
  #unmatched(x: Exchange, status: number, message: string): void {
    x.sendPlain(status, message);
    this.#deps.accounting.unmatched(status);
  }

  /** the tenant is known: its request body limit, then its isolate (warm, or started for this request) */
  #serve(x: Exchange, state: TenantState): void {
    x.state = state;
    x.startedNs = process.hrtime.bigint();
    x.baseDomain = this.#base;
    const limit = state.limits.requestBodyBytes;
    const declared = Number(x.req.headers['content-length'] ?? 0);
    if (declared > limit) {
      x.res.shouldKeepAlive = false; // the unread body would follow on this connection
      x.sendPlain(413, `${limitMessages.body} (${declared} > ${limit} bytes)`, 'body');
      return;
    }
    if (x.upgrade && wantsWebSocket(x.req) && this.#deps.webSockets?.full(state.tenant)) {
      // the function could not open one more: refused before it runs, as a limit
      const failure = { kind: 'limit', limit: 'websockets' } as const;
      const { requestId, method, path } = x;
      this.#deps.accounting.rejected({
        tenant: state.tenant,
        deployment: state.manifest.id,
        requestId,
        method,
        path,
        status: failureStatus(failure),
        failure,
      });
      x.sendFailure(failure);
      return;
    }
    const tracing = this.#deps.tracing;
    if (tracing) x.trace = requestSpan(tracing, x, state);
    try {
      x.entry = this.#deps.pool.acquire(state);
    } catch (err) {
      const failure = classifyFailure(err);
      if (failure.kind === 'limit' || failure.kind === 'backoff') {
        const { requestId, method, path } = x;
        const status = failureStatus(failure);
        this.#deps.accounting.rejected({
          tenant: state.tenant,
          deployment: state.manifest.id,
          requestId,
          method,
          path,
          status,
          failure,
          trace: x.trace,
        });
      } else x.trace?.finish({ 'http.response.status_code': failureStatus(failure) }, failure.kind);
      x.sendFailure(failure);
      return;
    }
    if (x.entry.ready) {
      this.#run(x);
      return;
    }
    x.waitsForColdStart();
    x.entry.started.then(
      () => this.#run(x),
      (err) => this.#startFailed(x, err),
    );
  }

  #startFailed(x: Exchange, err: unknown): void {
    const { entry } = x;
    entry.release();
    const failure = classifyFailure(err);
    x.failure = failure;
    if (failure.kind === 'startup') {
      const { tenant, deployment } = entry;
      this.#deps.logger.error('function failed to start', {
        tenant,
        deployment,
        requestId: x.requestId,
        code: failure.code,
        error: boundMessage(failure.message, 2048),
      });
      this.#deps.accounting.startFailed(entry, x.requestId, failure.message, failure.tenantStack);
      x.trace?.finish({ 'http.response.status_code': failureStatus(failure), 'islet.cold_start': true }, 'startup');
    } else {
      x.reportStatus(failureStatus(failure));
      this.#deps.accounting.finish(x);
    }
    x.sendFailure(failure);
  }

  /** the isolate is ready: the body, read whole first when small, then into the isolate */
  #run(x: Exchange): void {
    const small = smallBodyLength(x.req);
    if (small === null) {
      this.#dispatch(x, hasBody(x.req) ? limitedBody(x.req, x.entry.limits.requestBodyBytes, x) : null);
      return;
    }
    // A small body announced by its length (the usual API call or form post) is read before the
    // function starts, and enters the isolate with the request: no entry per chunk. The wait is
    // bounded by the tenant's wall-time limit, as the function's own read of it would be.
    readSmallBody(x.req, small, x.entry.limits.wallMs).then(
      (bytes) => this.#dispatch(x, bytes),
      (err: Error) => {
        x.entry.release();
        const status = err instanceof BodyTimeoutError ? 408 : 400;
        if (!x.res.destroyed) {
          x.res.shouldKeepAlive = false; // the rest of the body would follow on this connection
          x.sendPlain(status, err.message);
        }
        x.reportStatus(status);
        this.#deps.accounting.finish(x);
      },
    );
  }

  #dispatch(x: Exchange, body: Uint8Array | AsyncIterable<Uint8Array> | null): void {
    let dispatch: Dispatch;
    try {
      dispatch = x.entry.dispatch(x.sandboxRequest(body, this.#cf));
    } catch (err) {
      x.entry.release();
      this.#failWith(x, classifyFailure(err));
      return;
    }
    const sync = dispatch.sync;
    if (sync && x.bodyExceeded === null) {
      // over before dispatch returned: write and account now, no promise in between
      try {
        x.writeWhole(sync.response);
      } catch (err) {
        if (!(err instanceof InvalidResponseError)) throw err;
        x.failure = { kind: 'tenant', message: err.message };
        x.sendPlain(500, invalidResponse);
      }
      x.account = sync.account;
      this.#finished(x);
      return;
    }
    dispatch.response.then(
      (response) => {
        if (x.bodyExceeded !== null) {
          // the function answered although its body read failed: the client gets the limit, not a half-read answer
          x.failure = { kind: 'limit', limit: 'body', measured: x.bodyExceeded };
          if (response.body && !(response.body instanceof Uint8Array))
            response.body[Symbol.asyncIterator]()
              .return?.()
              ?.catch(() => undefined);
          this.#failWith(x, x.failure);
          return;
        }
        x.write(response).catch((err) => {
          // client gone or body stream cut: reported through `done`; an unsendable response is the function's error
          if (err instanceof InvalidResponseError) {
            x.failure = { kind: 'tenant', message: err.message };
            x.sendPlain(500, invalidResponse);
          }
        });
      },
      (err) => {
        const exceeded = x.bodyExceeded;
        x.failure =
          exceeded !== null
            ? { kind: 'limit', limit: 'body', measured: exceeded }
            : asResponseBodyCut(classifyFailure(err));
        if (x.failure.kind === 'tenant' && x.flags.passThrough) this.#passThrough(x, x.failure);
        else this.#failWith(x, x.failure);
      },
    );
    dispatch.done.then(
      (account) => {
        x.account = account;
        this.#finished(x);
      },
      (err) => {
        x.failure ??= classifyFailure(err);
        this.#finished(x);
      },
    );
  }

  /** the request is completely over (body written or abandoned, waitUntil settled): account for it */
  #finished(x: Exchange): void {
    x.entry.release();
    if (x.account?.limit?.limit === 'memory' || isMemory(x.failure)) this.#deps.pool.retire(x.entry, 'killed');
    else this.#deps.pool.served(x.entry);
    this.#deps.accounting.finish(x);
  }

  /**
   * The function threw after ctx.passThroughOnException(): the request's origin answers it
   * (bindings/pass-through.ts), or islet's 500 when there is none or the request cannot be sent again.
   */
  #passThrough(x: Exchange, failure: Failure): void {
    const origin = x.state && this.#deps.passThrough?.originFor(x.state.bindings, x.route);
    const request = x.request;
    if (!origin || !request || !this.#deps.passThrough) {
      this.#failWith(x, failure);
      return;
    }
    const { tenant } = x.entry;
    this.#deps.passThrough
      .send(origin, { method: x.method, path: x.path, headers: request.headers, body: request.body })
      .then(
        (response) => {
          if (response) return x.write(response);
          this.#deps.logger.warn('passThroughOnException: the request body was streamed, cannot send it again', {
            tenant,
            requestId: x.requestId,
          });
          this.#failWith(x, failure);
        },
        (err: Error) => {
          this.#deps.logger.warn('passThroughOnException: the origin did not answer', {
            tenant,
            requestId: x.requestId,
            origin,
            error: err.message,
          });
          this.#failWith(x, failure);
        },
      )
      .catch(() => {
        // the client went away while the origin's answer was written
      });
  }

  /** An answer for a request that failed inside an isolate; a memory kill recycles the isolate. */
  #failWith(x: Exchange, failure: Failure): void {
    if (isMemory(failure)) this.#deps.pool.retire(x.entry, 'killed');
    x.sendFailure(failure);
  }
}

function isMemory(failure: Failure | undefined): boolean {
  return failure?.kind === 'limit' && failure.limit === 'memory';
}

/** Malformed requests and oversized headers never reach a handler: answer them on the socket. */
function clientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? 431
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'HPE_HEADERS_TIMEOUT'
        ? 408
        : 400;
  const reason =
    status === 431
      ? 'request headers too large'
      : status === 408
        ? 'request headers not received in time'
        : `malformed request (${err.code ?? 'parse error'})`;
  const body = `${reason}\n`;
  const head = [
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}`,
    'connection: close',
    'content-type: text/plain; charset=utf-8',
    `content-length: ${Buffer.byteLength(body)}`,
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
}
