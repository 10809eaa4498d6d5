// The requests in flight in one sandbox, from dispatch to their end. A request enters the
// isolate with its method, URL, flat headers and body (whole when small, else a host source);
// it is answered through the dispatch entry's result or the `respond` op, fails through `fail`,
// keeps going while waitUntil promises are pending (`wait`), and is over once answered, its body
// done and nothing pending, or when a limit cuts it. Its end releases what it held on the host
// and tells the isolate, unless the isolate already forgot it (a plain answer, nothing left).
// A request answered with a WebSocket (a 101), or complete while it holds open WebSockets, goes
// on as a session (./run.ts): its account is settled then, and it ends with its last socket.
import { SandboxDisposedError, TenantCodeError, type LimitExceededError, type LimitName } from '../errors';
import type { ResponseAnswer, ResponseBody, WebSocketBody } from '../bridge/ops';
import { exactBytes } from './bytes';
import type { IsolateEntry } from './entry';
import { RequestRun, type HostOpHandlers, type RunResources } from './run';
import { isStreamed, type BodyStreams } from './streams/bodies';
import type { HostSources } from './streams/sources';
import type { Dispatch, RequestLimits, SandboxRequest, SandboxResponse, UpgradeSocket } from './types';
import { WallTimer } from './wall-timer';
import { webSocketLimits } from './websockets/limits';

/** what a request that owned nothing on the host hands to the isolate's `finish` entry */
const noIds: number[] = [];

export interface RequestParts {
  entry: IsolateEntry;
  sources: HostSources;
  bodies: BodyStreams;
  /** everything that may hold things for a request, released in this order when it ends */
  resources: readonly RunResources[];
  /** V8 disposed the isolate (its memory limit) while the handler failures of an entry were reported */
  memoryKilled(): void;
  /** the host socket a 101 answer names, coupled to `run` for the front to upgrade (null: not one it may return) */
  coupleWebSocket(run: RequestRun, socket: number): UpgradeSocket | null;
}

export class Requests {
  readonly #runs = new Map<number, RequestRun>();
  readonly #parts: RequestParts;
  readonly #wall = new WallTimer((now) => this.#cutOverdue(now));
  /** handler failures reported during the current entry, applied when it ends */
  #reported: [RequestRun, TenantCodeError][] = [];
  #next = 1;

  constructor(parts: RequestParts) {
    this.#parts = parts;
  }

  readonly ops: HostOpHandlers<'respond' | 'fail' | 'wait'> = {
    respond: (_caller, id, ...answer) => this.#respond(id, answer),
    fail: (_caller, id, message, stack) => {
      const run = this.#runs.get(id);
      // applied once the entry is over: if the isolate was killed for memory meanwhile (an
      // uncaught 'Array buffer allocation failed' is the usual first sign), memory wins
      if (run) this.#reported.push([run, new TenantCodeError(String(message), String(stack))]);
    },
    wait: (_caller, id, delta) => {
      const run = this.#runs.get(id);
      if (!run) return;
      run.waits += delta;
      if (run.complete) queueMicrotask(() => this.#maybeFinish(run));
    },
  };

  get size(): number {
    return this.#runs.size;
  }

  dispatch(request: SandboxRequest, limits: RequestLimits): Dispatch {
    const run = new RequestRun(this.#next++, request, limits);
    const result: Dispatch = {
      get response() {
        return run.response.promise;
      },
      get done() {
        return run.done.promise;
      },
    };
    if (this.#parts.entry.closed) {
      run.response.reject(new SandboxDisposedError('the sandbox is disposed'));
      run.done.resolve(run.account());
      return result;
    }
    if (request.body instanceof Uint8Array && request.body.byteLength > limits.requestBodyBytes) {
      run.limit = run.limitError('body', request.body.byteLength);
      run.response.reject(run.limit);
      run.done.resolve(run.account());
      return result;
    }
    this.#runs.set(run.id, run);
    this.#wall.arm(run.wallDeadline, this.#runs.size === 1);
    let body: number | Uint8Array | null = null;
    if (request.body instanceof Uint8Array) {
      // read whole by the front (a small body): it enters with the request, no reads needed
      body = exactBytes(request.body);
    } else if (request.body) {
      body = this.#parts.sources.add(run, request.body[Symbol.asyncIterator](), {
        limit: limits.requestBodyBytes,
        onLimit: (bytes) => {
          this.cut(run, run.limitError('body', bytes));
          return ['TypeError', `the request body is larger than the limit of ${limits.requestBodyBytes} bytes`];
        },
      });
    }
    if (request.scheduled) {
      // a cron run: the scheduled handler answers as a request does (respond, fail, waitUntil)
      this.#parts.entry.enter(run, 'scheduled', [run.id, request.scheduled.cron, request.scheduled.scheduledTime]);
    } else
      this.#parts.entry.enter(run, 'dispatch', [
        run.id,
        request.method,
        request.url,
        request.headers,
        body,
        request.cf ?? null,
      ]);
    // answered within the call, with a whole body and nothing left running (the hot path): the
    // request is over now, and the caller can take both outcomes without waiting on promises
    if (run.response.resolved) this.#maybeFinish(run);
    if (run.response.resolved && run.done.resolved) {
      const response = run.response.value;
      if (response.body === null || response.body instanceof Uint8Array) {
        result.sync = { response: response as SandboxResponse & { body: Uint8Array | null }, account: run.done.value };
      }
    }
    return result;
  }

  /** the dispatch entry returned the handler's answer */
  answered(run: RequestRun, answer: ResponseAnswer): void {
    this.#respond(run.id, answer);
  }

  #respond(id: number, [status, statusText, headers, body, released]: ResponseAnswer): void {
    const run = this.#runs.get(id);
    if (!run || run.answered) return;
    run.answered = true;
    run.releasedByIsolate = released === true;
    let payload: SandboxResponse['body'] = null;
    if (isWebSocketBody(body)) {
      this.#respondWithSocket(run, status, statusText, headers, body);
      return;
    }
    if (isStreamed(body)) {
      payload = this.#parts.bodies.open(run, body, run.limits.responseBodyBytes, {
        onEnd: () => {
          // a streamed response body is done: the request may be over
          run.bodyDone = true;
          queueMicrotask(() => this.#maybeFinish(run));
        },
        onLimit: (bytes) => {
          // cut once the current read has failed
          const error = run.limitError('body', bytes);
          queueMicrotask(() => this.cut(run, error));
          return error;
        },
      });
      if (!payload) {
        run.answered = false;
        const why = 'TypeError: the response body (a stream from the host) was already read or closed';
        queueMicrotask(() => this.fail(run, new TenantCodeError(why)));
        return;
      }
    } else {
      const bytes = wholeBody(body);
      run.bodyDone = true;
      if (bytes && bytes.byteLength > run.limits.responseBodyBytes) {
        run.answered = false;
        queueMicrotask(() => this.cut(run, run.limitError('body', bytes.byteLength)));
        return;
      }
      payload = bytes?.byteLength ? bytes : null;
    }
    run.responded = true;
    run.response.resolve({ status, statusText, headers, body: payload });
    if (run.complete) queueMicrotask(() => this.#maybeFinish(run));
  }

  /** a 101 with a WebSocket: the front upgrades the client's connection and couples it to the socket */
  #respondWithSocket(
    run: RequestRun,
    status: number,
    statusText: string,
    headers: string[],
    body: WebSocketBody,
  ): void {
    const socket = this.#parts.coupleWebSocket(run, body.webSocket);
    if (!socket) {
      run.answered = false;
      const why = 'TypeError: the WebSocket in the response cannot be returned (it was already used, or closed)';
      queueMicrotask(() => this.fail(run, new TenantCodeError(why)));
      return;
    }
    run.bodyDone = true;
    run.responded = true;
    run.response.resolve({ status, statusText, headers, body: null, webSocket: socket });
    if (run.complete) queueMicrotask(() => this.#maybeFinish(run));
  }

  /** the WebSockets `run` holds changed (one closed): a session without any left is over */
  socketsChanged(run: RequestRun): void {
    if (run.over) queueMicrotask(() => this.#maybeFinish(run));
  }

  /** the handler failed (or its answer could not be used) */
  fail(run: RequestRun, error: Error): void {
    if (run.finished) return;
    if (!run.answered) {
      run.answered = true;
      run.bodyDone = true;
      run.response.reject(error);
    }
    this.#maybeFinish(run);
  }

  /** a limit cut the request: fail what is still open and finish it now */
  cut(run: RequestRun, error: LimitExceededError): void {
    if (run.finished) return;
    run.limit = error;
    if (!run.answered) {
      run.answered = true;
      run.response.reject(error);
    } else if (!run.bodyDone) {
      run.failBody?.(error);
    }
    this.#finish(run, `the request was cut: ${error.message}`);
  }

  /** cuts every request in flight (the isolate died over its memory limit) */
  cutAll(limit: LimitName): void {
    for (const run of [...this.#runs.values()]) this.cut(run, run.limitError(limit, 0));
  }

  /** the entry that just ended reported handler failures: apply them now */
  applyReported(): void {
    if (this.#reported.length === 0) return;
    const reported = this.#reported;
    this.#reported = [];
    if (this.#parts.entry.isolateGone) {
      // killed after the entry returned: the failures were the memory budget's doing
      this.#parts.memoryKilled();
      return;
    }
    for (const [run, error] of reported) this.fail(run, error);
  }

  /** the sandbox is disposed: every request in flight ends now, unanswered ones with SandboxDisposedError */
  abandonAll(): void {
    this.#wall.dispose();
    for (const run of this.#runs.values()) {
      run.finished = true;
      if (!run.answered) run.response.reject(new SandboxDisposedError());
      run.done.resolve(run.account());
    }
    this.#runs.clear();
  }

  #maybeFinish(run: RequestRun): void {
    if (run.finished) return;
    if (run.over) this.#finish(run, null);
    else if (run.complete && !run.session) {
      // complete, but WebSockets keep it going: the client's request is over (its account is
      // settled now); the session lives on with its sockets, one message's budget at a time
      run.beginSession(webSocketLimits(run.limits).messageCpuMs);
      run.done.resolve(run.account());
    }
  }

  #finish(run: RequestRun, reason: string | null): void {
    if (run.finished) return;
    run.finished = true;
    this.#runs.delete(run.id);
    if (this.#runs.size === 0) this.#wall.idle();
    let timers: number[] = noIds;
    let ops: number[] = noIds;
    if (run.ownsAnything) {
      timers = [...run.timers];
      ops = [...run.ops];
      for (const resources of this.#parts.resources) resources.releaseRun(run, reason);
    }
    // the isolate forgets a request on its own when it answered with a plain body; come back in
    // only when something is left there (timers, a signal to abort, stream or waitUntil state)
    if (!run.releasedByIsolate || timers.length > 0 || ops.length > 0 || reason !== null) {
      this.#parts.entry.enter(null, 'finish', [run.id, reason, timers, ops]);
    }
    // cut after the response started: the body and `done` fail (the account stays on the error's run)
    if (run.limit && run.responded) {
      run.limit.account = run.account();
      run.done.reject(run.limit);
    } else run.done.resolve(run.account());
  }

  /** the wall timer is due: cuts the overdue requests; returns the next deadline */
  #cutOverdue(now: number): number {
    let next = Infinity;
    for (const run of [...this.#runs.values()]) {
      if (run.finished) continue;
      if (run.wallDeadline <= now) this.cut(run, run.limitError('wall', run.elapsedMs()));
      else if (run.wallDeadline < next) next = run.wallDeadline;
    }
    return next;
  }
}

function isWebSocketBody(body: ResponseBody): body is WebSocketBody {
  return (
    body !== null &&
    typeof body === 'object' &&
    !(body instanceof Uint8Array) &&
    typeof (body as { webSocket?: unknown }).webSocket === 'number'
  );
}

/** a whole response body as bytes (text is encoded here), or null */
function wholeBody(body: Exclude<ResponseBody, number | { source: number } | WebSocketBody>): Uint8Array | null {
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
}
