// One request through the front, from its arrival to its accounting: the Node request and
// response, where it goes (front/host.ts), its tenant state and isolate once known, its timing,
// what the function's run cost, the failure that decided the answer if any, and the writing of
// that answer (or, for a WebSocket upgrade answered 101, the handshake: front/upgrade.ts). The
// front server (front/server.ts) moves it along; accounting reads it as the FinishedRequest it
// is, so the end of a request allocates no record of its own.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LimitName } from '../errors';
import type { RequestAccount, RequestFlags, SandboxRequest, SandboxResponse, UpgradeSocket } from '../host/types';
import type { FinishedRequest } from '../tenants/accounting';
import type { TenantState } from '../tenants/directory';
import type { Failure } from '../tenants/limits';
import type { TenantIsolate } from '../tenants/tenant-isolate';
import type { CookieScope } from './cookies';
import type { RequestTarget } from './host';
import type { RequestTracker } from './tracker';
import type { CfPolicy } from './cf/policy';
import { flatHeaders, type BodyGuard } from './request';
import { sendPlain, writeSandboxResponse, writeWholeResponse } from './response';
import { failureAnswer } from './status';
import { completeUpgrade, type Upgrade } from './upgrade';
import { webSocketLimits } from '../host/websockets/limits';
import type { ServerTrace } from '../observe/tracing/types';

export class Exchange implements FinishedRequest, BodyGuard {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  readonly method: string;
  /** the host as the client gave it (port included); set once routed */
  authority = '';
  /** the origin-form target, path and query; set once routed */
  path = '/';
  /** the host name the request was routed by (lower case, no port) */
  hostname = '';
  /** the platform's base domain, lower case, once the request is served (cookie scopes) */
  baseDomain = '';

  /** the tenant's state (deployment, limits) once known */
  state: TenantState | null = null;
  /** the isolate serving it, once acquired from the pool */
  entry!: TenantIsolate;
  /** when serving began (after routing), on process.hrtime's clock */
  startedNs = 0n;
  /** the isolate had to start for this request */
  cold = false;
  /** what the function's run cost, once it is over (null: it never ran, or it failed) */
  account: RequestAccount | null = null;
  /** the failure that decided the answer, if any */
  failure?: Failure;
  bodyExceeded: number | null = null;
  /** an upgrade request's connection (node:http's 'upgrade' event): a 101 with a WebSocket takes it over */
  upgrade?: Upgrade;
  /** the custom route pattern that matched (null: the tenant's own host name) */
  route: string | null = null;
  /** what the function asked for while it ran (passThroughOnException), and a service loop cut in its chain */
  readonly flags: RequestFlags = {};
  /** the request as it entered the sandbox, once dispatched */
  request: SandboxRequest | null = null;
  /** its server span when tracing is on */
  trace?: ServerTrace;
  /** the status to report when islet answered (or meant to) without the function */
  #status = 0;
  /** its slot with the tracker of requests in flight (-1: not tracked) */
  slot = -1;
  #tracker: RequestTracker | null = null;
  /** an answer began to go out */
  #answered = false;

  constructor(req: IncomingMessage, res: ServerResponse, requestId: string) {
    this.req = req;
    this.res = res;
    this.requestId = requestId;
    this.method = req.method ?? 'GET';
  }

  /** the status the client got, as accounting reports it */
  get status(): number {
    return this.#status || this.res.statusCode;
  }

  /** the status to report although the answer may not have gone out (the client left first) */
  reportStatus(status: number): void {
    this.#status = status;
  }

  /** the hosts the function's cookies may be scoped to (front/cookies.ts), made when a cookie is set */
  cookieScope(): CookieScope | undefined {
    return this.state ? { host: this.hostname, own: `${this.state.tenant}.${this.baseDomain}` } : undefined;
  }

  /** keeps `tracker` told of this request (its slot from tracker.begin) */
  track(tracker: RequestTracker, slot: number): void {
    this.#tracker = tracker;
    this.slot = slot;
  }

  /** the tenant is known: the tracker notes it */
  forTenant(tenant: string): void {
    if (this.slot >= 0) this.#tracker!.tenant(this.slot, tenant);
  }

  /** the request was not answered in the turn it arrived: the tracker keeps its head (a replay needs it) */
  parkIfUnanswered(): void {
    if (this.slot >= 0 && !this.#answered) this.#tracker!.park(this.slot, this.req);
  }

  /** the request waits for its tenant's isolate to start */
  waitsForColdStart(): void {
    this.cold = true;
    if (this.slot >= 0) this.#tracker!.cold(this.slot);
  }

  /** the request is over: its slot is free again */
  untrack(): void {
    if (this.slot < 0) return;
    this.#tracker!.end(this.slot);
    this.slot = -1;
  }

  /** an answer is about to go out: from here on the request must never be replayed */
  #answering(): void {
    this.#answered = true;
    if (this.slot >= 0) this.#tracker!.answering(this.slot);
  }

  routed(target: RequestTarget): void {
    this.authority = target.authority;
    this.path = target.path;
    this.hostname = target.hostname;
  }

  /**
   * the request as it enters the sandbox, with its body (whole, streamed, or none) and its
   * request.cf values (`cf` also removes the headers the peer may not send)
   */
  sandboxRequest(body: Uint8Array | AsyncIterable<Uint8Array> | null, cf: CfPolicy): SandboxRequest {
    const headers = flatHeaders(this.req.rawHeaders);
    this.request = {
      id: this.requestId,
      method: this.method,
      url: `http://${this.authority}${this.path}`,
      headers,
      body,
      cf: cf.apply(this.req, headers),
      flags: this.flags,
      trace: this.trace,
    };
    return this.request;
  }

  // ---- the answer ------------------------------------------------------------------------------

  /** islet's own short answer (404, 413, 503...), plain text, with the request id */
  sendPlain(status: number, message: string, limit?: LimitName | 'backoff', retryAfterS?: number): void {
    this.#answering();
    const extra = retryAfterS === undefined ? undefined : ['retry-after', String(retryAfterS)];
    sendPlain(this.res, status, this.requestId, message, limit, extra);
  }

  /** 503 for a quarantined tenant: `islet-error: quarantined` and when to retry */
  sendQuarantined(tenant: string, retryAfterS: number): void {
    this.#answering();
    const message = `'${tenant}' is quarantined: its code made worker processes die; retry in ${retryAfterS} s`;
    sendPlain(this.res, 503, this.requestId, message, 'quarantined', ['retry-after', String(retryAfterS)]);
  }

  /** islet's answer for a request that failed (limit, start-up, exception, stopped isolate) */
  sendFailure(failure: Failure): void {
    const { status, message, limit, retryAfterS } = failureAnswer(failure);
    this.sendPlain(status, message, limit, retryAfterS);
  }

  /** writes a response whose body is whole, synchronously (see front/response.ts) */
  writeWhole(response: SandboxResponse & { body: Uint8Array | null }): void {
    this.#answering();
    if (this.#loopCut()) {
      response.webSocket?.refuse('a service binding loop was cut');
      return;
    }
    if (response.webSocket) this.#upgrade(response as SandboxResponse & { webSocket: UpgradeSocket });
    else writeWholeResponse(this.res, response, this.requestId, this.method === 'HEAD', this);
  }

  /** writes the function's response, streaming its body with backpressure (see front/response.ts) */
  write(response: SandboxResponse): Promise<void> {
    this.#answering();
    if (this.#loopCut()) {
      if (response.body && !(response.body instanceof Uint8Array)) {
        void response.body[Symbol.asyncIterator]()
          .return?.()
          ?.catch(() => undefined);
      }
      response.webSocket?.refuse('a service binding loop was cut');
      return Promise.resolve();
    }
    if (response.webSocket) {
      try {
        this.#upgrade(response as SandboxResponse & { webSocket: UpgradeSocket });
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return writeSandboxResponse(this.res, response, this.requestId, this.method === 'HEAD', this);
  }

  /** a 101 with a WebSocket: the handshake, then the connection is the socket's (else InvalidResponseError) */
  #upgrade(response: SandboxResponse & { webSocket: UpgradeSocket }): void {
    const maxPayload = webSocketLimits(this.entry.limits).messageBytes;
    completeUpgrade(this.req, this.res, this.upgrade, response, this.requestId, maxPayload);
    this.reportStatus(101);
  }

  /** a service binding loop was cut in this request's chain: islet answers 508 instead of the function */
  #loopCut(): boolean {
    if (!this.flags.loop) return false;
    const message = 'service binding loop: the chain of service calls this request started was cut at its depth limit';
    sendPlain(this.res, 508, this.requestId, message, 'loop');
    return true;
  }
}
