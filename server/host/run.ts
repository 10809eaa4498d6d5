// One request's life inside a sandbox: its budgets, what it has used, what it owns on the host
// (timers, operations, body streams, WebSockets) and the two promises the caller waits on. The
// sandbox's parts drive it (host/requests.ts ends it); this file only keeps the state and the
// rules about when the request is over.
//
// A request whose response is complete but which still holds open WebSockets goes on as a
// WebSocket session (Workers' model: the request ends when the 101 is sent, the socket lives on):
// its account is reported then, and from there each inbound message opens a new budget window
// (CPU, subrequests, log bytes), each entry gets the whole wall limit, and the session ends with
// its last socket (host/websockets/).
import { LimitExceededError, type LimitName } from '../errors';
import type { OpHandlers } from '../bridge/table';
import type { OpName } from '../bridge/ops';
import type { RequestAccount, RequestLimits, SandboxRequest, SandboxResponse } from './types';
import type { PoolJob } from './work-pool';

/** the request a bridge call is made for; null: top-level code, outside any request */
export type Caller = RequestRun | null;

/** the host's handlers of some bridge ops (each part of the sandbox supplies those of its concern) */
export type HostOpHandlers<Names extends OpName> = OpHandlers<Names, Caller>;

/** A part of the sandbox that holds things on requests' behalf: timers, operations, streams... */
export interface RunResources {
  /** the request is over (answered, cut or abandoned): drop what it still holds */
  releaseRun(run: RequestRun, reason: string | null): void;
  /** the sandbox is torn down: drop everything, for every request */
  dispose(): void;
}

/**
 * One of a request's two outcomes (its response, its end). The promise is made only when someone
 * asks for it: a request answered within its dispatch call (a synchronous handler with a whole
 * body, the hot path) is read through `value` and never allocates one.
 */
export class Outcome<T> {
  #state: 'pending' | 'resolved' | 'rejected' = 'pending';
  #value: unknown = undefined;
  #promise: Promise<T> | null = null;
  #resolve: ((value: T) => void) | null = null;
  #reject: ((error: unknown) => void) | null = null;

  get resolved(): boolean {
    return this.#state === 'resolved';
  }

  /** the resolved value (only meaningful when `resolved`) */
  get value(): T {
    return this.#value as T;
  }

  get promise(): Promise<T> {
    if (!this.#promise) {
      if (this.#state === 'resolved') this.#promise = Promise.resolve(this.#value as T);
      else if (this.#state === 'rejected') this.#promise = Promise.reject(this.#value);
      else {
        this.#promise = new Promise<T>((resolve, reject) => {
          this.#resolve = resolve;
          this.#reject = reject;
        });
      }
      // callers may await only one of a dispatch's outcomes: the other must not count as unhandled
      this.#promise.catch(() => {});
    }
    return this.#promise;
  }

  resolve(value: T): void {
    if (this.#state !== 'pending') return;
    this.#state = 'resolved';
    this.#value = value;
    this.#resolve?.(value);
  }

  reject(error: unknown): void {
    if (this.#state !== 'pending') return;
    this.#state = 'rejected';
    this.#value = error;
    this.#reject?.(error);
  }
}

export class RequestRun {
  readonly response = new Outcome<SandboxResponse>();
  readonly done = new Outcome<RequestAccount>();
  readonly startedNs = process.hrtime.bigint();
  /** when the wall-time limit runs out, on performance.now()'s clock (Infinity for a WebSocket session) */
  wallDeadline: number;
  cpuNs = 0n;
  subrequests = 0;
  logBytes = 0;
  logNoticeSent = false;
  /** the handler answered (or failed): `response` is settled */
  answered = false;
  /** `response` resolved with a response (the host may be writing it) */
  responded = false;
  /** the isolate already dropped its state for this request (it said so when responding) */
  releasedByIsolate = false;
  /** the response body was fully pulled, abandoned, or there is none */
  bodyDone = false;
  /** waitUntil promises still pending in the isolate */
  waits = 0;
  /** open WebSockets this request holds (each keeps it going past its response) */
  sockets = 0;
  /** the response is complete and only WebSockets keep the request going (see the top of the file) */
  session = false;
  finished = false;
  limit?: LimitExceededError;
  // What the request owns on the host, each made on first use: most requests own nothing.
  #timers: Set<number> | null = null;
  #ops: Set<number> | null = null;
  #sources: Set<number> | null = null;
  #sinks: Set<number> | null = null;
  #zlib: Set<number> | null = null;
  #work: Set<PoolJob<unknown>> | null = null;
  #webSockets: Set<number> | null = null;
  /** set by the sandbox: called when the response body cannot go on (limit cut) */
  failBody: ((error: Error) => void) | null = null;

  constructor(
    readonly id: number,
    readonly request: SandboxRequest,
    /** replaced once, when the request becomes a WebSocket session (per-message CPU budget) */
    public limits: RequestLimits,
  ) {
    this.wallDeadline = performance.now() + limits.wallMs;
  }

  get timers(): Set<number> {
    return (this.#timers ??= new Set());
  }
  get ops(): Set<number> {
    return (this.#ops ??= new Set());
  }
  get sources(): Set<number> {
    return (this.#sources ??= new Set());
  }
  get sinks(): Set<number> {
    return (this.#sinks ??= new Set());
  }
  /** CompressionStream/DecompressionStream zlib streams */
  get zlib(): Set<number> {
    return (this.#zlib ??= new Set());
  }
  /** jobs on the host's work pools (WebCrypto, compression) queued or running for it */
  get work(): Set<PoolJob<unknown>> {
    return (this.#work ??= new Set());
  }
  /** host sockets (server/host/websockets/) the request owns, open or not yet coupled */
  get webSockets(): Set<number> {
    return (this.#webSockets ??= new Set());
  }
  /** whether the request ever held a timer, operation, stream, zlib stream, pool job or WebSocket on the host */
  get ownsAnything(): boolean {
    return (
      (this.#timers?.size ?? 0) +
        (this.#ops?.size ?? 0) +
        (this.#sources?.size ?? 0) +
        (this.#sinks?.size ?? 0) +
        (this.#zlib?.size ?? 0) +
        (this.#work?.size ?? 0) +
        (this.#webSockets?.size ?? 0) >
      0
    );
  }

  elapsedMs(): number {
    return Number(process.hrtime.bigint() - this.startedNs) / 1e6;
  }
  cpuMs(): number {
    return Number(this.cpuNs) / 1e6;
  }
  remainingWallMs(): number {
    // a session is bounded by its sockets' idle time, not by a wall deadline: each entry gets the whole limit
    return this.session ? this.limits.wallMs : this.limits.wallMs - this.elapsedMs();
  }
  remainingCpuMs(): number {
    return this.limits.cpuMs - this.cpuMs();
  }

  /** answered, its body done and no waitUntil pending: what the client and accounting wait for */
  get complete(): boolean {
    return this.answered && this.bodyDone && this.waits <= 0;
  }

  /** over: the request is finished once complete and no WebSocket keeps it going */
  get over(): boolean {
    return this.complete && this.sockets <= 0;
  }

  /** a WebSocket session from now on: no wall deadline, the CPU budget of one message per window */
  beginSession(messageCpuMs: number): void {
    this.session = true;
    this.wallDeadline = Infinity;
    this.limits = { ...this.limits, cpuMs: messageCpuMs };
  }

  /** an inbound WebSocket message: a session's budgets start again (CPU, subrequests, log bytes) */
  beginWindow(): void {
    if (!this.session) return;
    this.cpuNs = 0n;
    this.subrequests = 0;
    this.logBytes = 0;
    this.logNoticeSent = false;
  }

  account(): RequestAccount {
    const account: RequestAccount = {
      cpuNs: this.cpuNs,
      wallNs: process.hrtime.bigint() - this.startedNs,
      subrequests: this.subrequests,
      logBytes: this.logBytes,
    };
    if (this.limit) account.limit = this.limit;
    return account;
  }

  limitError(limit: LimitName, measured: number, stack?: string): LimitExceededError {
    return new LimitExceededError(limit, Math.round(measured), stack);
  }
}
