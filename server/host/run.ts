// One request's life inside a sandbox: its budgets, what it has used, what it owns on the host
// (timers, operations, body streams) and the two promises the caller waits on. The sandbox
// drives it; this file only keeps the state and the rules about when the request is over.
import { LimitExceededError, type RequestAccount, type RequestLimits, type SandboxRequest, type SandboxResponse, type LimitName } from './types';

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export class RequestRun {
  readonly response = deferred<SandboxResponse>();
  readonly done = deferred<RequestAccount>();
  readonly startedNs = process.hrtime.bigint();
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
  finished = false;
  limit?: LimitExceededError;
  readonly timers = new Set<number>();
  readonly ops = new Set<number>();
  readonly sources = new Set<number>();
  readonly sinks = new Set<number>();
  /** CompressionStream/DecompressionStream zlib streams */
  readonly zlib = new Set<number>();
  wallTimer: NodeJS.Timeout | null = null;
  /** set by the sandbox: called when the response body cannot go on (limit cut) */
  failBody: ((error: Error) => void) | null = null;

  constructor(
    readonly id: number,
    readonly request: SandboxRequest,
    readonly limits: RequestLimits,
  ) {}

  elapsedMs(): number {
    return Number(process.hrtime.bigint() - this.startedNs) / 1e6;
  }
  cpuMs(): number {
    return Number(this.cpuNs) / 1e6;
  }
  remainingWallMs(): number {
    return this.limits.wallMs - this.elapsedMs();
  }
  remainingCpuMs(): number {
    return this.limits.cpuMs - this.cpuMs();
  }

  /** over: the request is finished once answered, its body is done and no waitUntil is pending */
  get over(): boolean {
    return this.answered && this.bodyDone && this.waits <= 0;
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
