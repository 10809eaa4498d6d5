// The tenant-traffic server. node:http is used directly rather than through hono's node adapter:
// the adapter builds a Web Request and Response per request on the Node side, which this path
// does not need (the request crosses into the isolate as flat pairs and a body stream, and the
// response comes back the same way); bench/serve measures both (see config/README.md, "Serving").
//
// A request: Host -> tenant (router) -> tenant state (directory, cached) -> isolate (pool, warm or
// cold) -> dispatch into the sandbox -> response written with backpressure -> once `done`
// settles (body pulled, waitUntil over), accounting and the request log line.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Config } from '../config';
import type { Logger } from '../observe/server-log';
import type { TenantRouter } from './router';
import type { TenantDirectory, TenantState } from '../tenants/directory';
import type { IsolatePool } from '../tenants/pool';
import type { TenantIsolate } from '../tenants/tenant-isolate';
import type { Accounting } from '../tenants/accounting';
import type { RequestAccount } from '../host/types';
import { asResponseBodyCut, classifyFailure, limitMessages, responseBodyMessage, type Failure } from '../tenants/limits';
import { BodyTimeoutError, hasBody, limitedBody, nextRequestId, parseHost, readSmallBody, smallBodyLength, toSandboxRequest, type BodyGuard } from './request';
import { InvalidResponseError, sendPlain, writeSandboxResponse, writeWholeResponse } from './response';

export interface FrontDeps {
  config: Config;
  router: TenantRouter;
  directory: TenantDirectory;
  pool: IsolatePool;
  accounting: Accounting;
  logger: Logger;
}

export class FrontServer {
  readonly server: http.Server;
  readonly #deps: FrontDeps;
  #inFlight = 0;
  #idle?: () => void;
  #closing = false;

  constructor(deps: FrontDeps) {
    this.#deps = deps;
    const { server: s } = deps.config;
    this.server = http.createServer(
      { maxHeaderSize: s.maxHeaderBytes, headersTimeout: s.headersTimeoutMs, keepAliveTimeout: s.keepAliveTimeoutMs, requestTimeout: 0 },
      (req, res) => this.#handle(req, res),
    );
    this.server.keepAliveTimeout = s.keepAliveTimeoutMs;
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => clientError(err, socket));
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

  /** Stops accepting, lets in-flight requests finish for up to `timeoutMs`, then cuts what is left. */
  async close(timeoutMs: number): Promise<void> {
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
    await closed;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const id = nextRequestId();
    this.#inFlight++;
    res.once('close', () => {
      if (--this.#inFlight === 0) this.#idle?.();
    });
    // Keep-alive connections must not keep a closing server alive.
    if (this.#closing) res.shouldKeepAlive = false;

    let url = req.url ?? '/';
    let authority = req.headers.host;
    if (url[0] !== '/') {
      // absolute-form (`GET http://t.example.com/path HTTP/1.1`): its authority wins over Host (RFC 9112 3.2.2)
      const absolute = /^https?:\/\/([^/?#]+)([^#]*)/i.exec(url);
      if (!absolute) {
        sendPlain(res, 400, id, 'bad request target: expected a path starting with / or an absolute http URL');
        return;
      }
      authority = absolute[1]!;
      url = absolute[2] || '/';
      if (url[0] !== '/') url = `/${url}`;
    }
    const hostname = parseHost(authority);
    if (!hostname || authority === undefined) {
      sendPlain(res, 400, id, authority ? `bad Host header '${authority.slice(0, 100)}': expected a host name` : 'missing Host header: islet routes requests by host name');
      return;
    }
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const match = this.#deps.router.match(hostname, path);
    if (!match) {
      sendPlain(res, 404, id, `no function is deployed at ${hostname}${path}: tenants answer on <tenant>.${this.#deps.config.baseDomain} or on the routes their deployments declare`);
      return;
    }
    const state = this.#deps.directory.get(match.tenant);
    if (state === null) {
      sendPlain(res, 404, id, `no function is deployed for '${match.tenant}' (no such tenant, or no active deployment)`);
    } else if (state instanceof Promise) {
      state.then(
        (s) => (s ? this.#serve(req, res, id, s, url, authority) : sendPlain(res, 404, id, `no function is deployed for '${match.tenant}' (no such tenant, or no active deployment)`)),
        (err: Error) => {
          this.#deps.logger.error('reading tenant from the store failed', { tenant: match.tenant, requestId: id, error: err.message });
          sendPlain(res, 503, id, 'the function is temporarily unavailable');
        },
      );
    } else {
      this.#serve(req, res, id, state, url, authority);
    }
  }

  /** `authority`: the host as the client gave it (port included), which builds the URL the function sees */
  #serve(req: IncomingMessage, res: ServerResponse, id: string, state: TenantState, url: string, authority: string): void {
    const startedNs = process.hrtime.bigint();
    const limit = state.limits.requestBodyBytes;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      res.shouldKeepAlive = false; // the unread body would follow on this connection
      sendPlain(res, 413, id, `${limitMessages.body} (${declared} > ${limit} bytes)`, 'body');
      return;
    }
    let entry: TenantIsolate;
    try {
      entry = this.#deps.pool.acquire(state);
    } catch (err) {
      const failure = classifyFailure(err);
      if (failure.kind === 'limit') this.#deps.accounting.rejected(state.tenant, state.manifest.id, failure, id, req.method ?? 'GET', url);
      this.#fail(res, id, failure);
      return;
    }
    if (entry.ready) {
      this.#run(req, res, id, entry, url, authority, startedNs, false);
      return;
    }
    entry.started.then(
      () => this.#run(req, res, id, entry, url, authority, startedNs, true),
      (err) => {
        entry.release();
        const failure = classifyFailure(err);
        if (failure.kind === 'startup') {
          this.#deps.logger.error('function failed to start', { tenant: entry.tenant, deployment: entry.deployment, requestId: id, code: failure.code, error: failure.message });
          this.#deps.accounting.startFailed(entry, id, failure.message, failure.tenantStack);
        } else this.#deps.accounting.finish({ entry, requestId: id, method: req.method ?? 'GET', path: url, status: failure.status, startedNs, cold: true, account: null, failure });
        this.#fail(res, id, failure);
      },
    );
  }

  #run(req: IncomingMessage, res: ServerResponse, id: string, entry: TenantIsolate, url: string, authority: string, startedNs: bigint, cold: boolean): void {
    const small = smallBodyLength(req);
    if (small === null) {
      const guard: BodyGuard = { exceeded: null };
      this.#dispatch(req, res, id, entry, url, authority, startedNs, cold, hasBody(req) ? limitedBody(req, entry.limits.requestBodyBytes, guard) : null, guard);
      return;
    }
    // A small body announced by its length (the usual API call or form post) is read before the
    // function starts, and enters the isolate with the request: no entry per chunk. The wait is
    // bounded by the tenant's wall-time limit, as the function's own read of it would be.
    readSmallBody(req, small, entry.limits.wallMs).then(
      (bytes) => this.#dispatch(req, res, id, entry, url, authority, startedNs, cold, bytes, { exceeded: null }),
      (err: Error) => {
        entry.release();
        const status = err instanceof BodyTimeoutError ? 408 : 400;
        if (!res.destroyed) {
          res.shouldKeepAlive = false; // the rest of the body would follow on this connection
          sendPlain(res, status, id, err.message);
        }
        this.#deps.accounting.finish({ entry, requestId: id, method: req.method ?? 'GET', path: url, status, startedNs, cold, account: null });
      },
    );
  }

  #dispatch(req: IncomingMessage, res: ServerResponse, id: string, entry: TenantIsolate, url: string, authority: string, startedNs: bigint, cold: boolean, body: Uint8Array | AsyncIterable<Uint8Array> | null, guard: BodyGuard): void {
    let failure: Failure | undefined;
    let dispatch;
    try {
      dispatch = entry.dispatch(toSandboxRequest(id, req, authority, url, body));
    } catch (err) {
      entry.release();
      this.#failWith(res, id, entry, classifyFailure(err));
      return;
    }
    const sync = dispatch.sync;
    if (sync && guard.exceeded === null) {
      // over before dispatch returned: write and account now, no promise in between
      try {
        writeWholeResponse(res, sync.response, id, req.method === 'HEAD');
      } catch (err) {
        if (!(err instanceof InvalidResponseError)) throw err;
        failure = { kind: 'tenant', status: 500, message: err.message };
        sendPlain(res, 500, id, 'the function returned an invalid response (details are in the server log under this request id)');
      }
      this.#finished(req, res, id, entry, url, startedNs, cold, sync.account, failure);
      return;
    }
    dispatch.response.then(
      (response) => {
        if (guard.exceeded !== null) {
          // the function answered although its body read failed: the client gets the limit, not a half-read answer
          failure = { kind: 'limit', limit: 'body', status: 413, measured: guard.exceeded };
          if (response.body && !(response.body instanceof Uint8Array)) response.body[Symbol.asyncIterator]().return?.()?.catch(() => undefined);
          this.#failWith(res, id, entry, failure);
          return;
        }
        writeSandboxResponse(res, response, id, req.method === 'HEAD').catch((err) => {
          // client gone or body stream cut: reported through `done`; an unsendable response is the function's error
          if (err instanceof InvalidResponseError) {
            failure = { kind: 'tenant', status: 500, message: err.message };
            sendPlain(res, 500, id, 'the function returned an invalid response (details are in the server log under this request id)');
          }
        });
      },
      (err) => {
        failure = guard.exceeded !== null ? { kind: 'limit', limit: 'body', status: 413, measured: guard.exceeded } : asResponseBodyCut(classifyFailure(err));
        this.#failWith(res, id, entry, failure);
      },
    );
    dispatch.done.then(
      (account) => this.#finished(req, res, id, entry, url, startedNs, cold, account, failure),
      (err) => {
        failure ??= classifyFailure(err);
        this.#finished(req, res, id, entry, url, startedNs, cold, null, failure);
      },
    );
  }

  #finished(req: IncomingMessage, res: ServerResponse, id: string, entry: TenantIsolate, path: string, startedNs: bigint, cold: boolean, account: RequestAccount | null, failure: Failure | undefined): void {
    entry.release();
    if (account?.limit?.limit === 'memory' || (failure?.kind === 'limit' && failure.limit === 'memory')) this.#deps.pool.retire(entry, 'killed');
    this.#deps.accounting.finish({ entry, requestId: id, method: req.method ?? 'GET', path, status: res.statusCode, startedNs, cold, account, failure });
  }

  /** An answer for a request that failed inside an isolate; a memory kill recycles the isolate. */
  #failWith(res: ServerResponse, id: string, entry: TenantIsolate, failure: Failure): void {
    if (failure.kind === 'limit' && failure.limit === 'memory') this.#deps.pool.retire(entry, 'killed');
    this.#fail(res, id, failure);
  }

  #fail(res: ServerResponse, id: string, failure: Failure): void {
    if (failure.kind === 'limit') {
      sendPlain(res, failure.status, id, failure.response ? responseBodyMessage : limitMessages[failure.limit], failure.limit);
    } else if (failure.kind === 'unavailable') {
      sendPlain(res, 503, id, 'the function was stopped while handling this request; retry');
    } else if (failure.kind === 'startup') {
      sendPlain(res, 500, id, 'the function failed to start (details are in the server log under this request id)');
    } else {
      sendPlain(res, 500, id, 'the function threw an exception (details are in the server log under this request id)');
    }
  }
}

/** Malformed requests and oversized headers never reach a handler: answer them on the socket. */
function clientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'HPE_HEADERS_TIMEOUT' ? 408 : 400;
  const reason = status === 431 ? 'request headers too large' : status === 408 ? 'request headers not received in time' : `malformed request (${err.code ?? 'parse error'})`;
  const body = `${reason}\n`;
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nconnection: close\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}
