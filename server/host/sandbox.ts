// A sandbox is one tenant deployment's context inside an isolate, with the host side of the
// bridge the shims talk to. tenants/ owns the isolate and loads the deployment's code into
// `context`; the sandbox serves requests through it.
//
// The protocol: every entry into the isolate is a synchronous `applySync` on a function the
// bootstrap returned before any tenant code ran (dispatch, complete, fire, pull...), made from
// Node's thread with the request's remaining budgets as time limits. The isolate calls the host
// through one bridge function, always synchronously: operations that take time (fetch, timers,
// body reads, WebCrypto) return an id at once and are completed by a later entry. Each entry's
// CPU time is charged to the request it serves, and a request past its budget is cut.
import crypto from 'node:crypto';
import type { Agent } from 'undici';
import { isolateApi, isolateFailure, type Context, type Isolate, type Reference } from './isolate-api';
import { runBootstrap, hasBootstrapCache, produceBootstrapCache } from './bootstrap';
import { RequestRun } from './run';
import { EgressGuard } from './egress';
import { createEgressAgent, fetchErrorMessage, performFetch } from './fetch';
import { KeyTable, subtleErrorParts } from './subtle';
import { ZlibStream } from './compression';
import { parseURL, setURL, utf8Decode, utf8Encode, randomBytes } from './ops';
import { SMALL_BODY_BYTES, exactBytes, smallContentLength } from './bytes';
import { LimitExceededError, SandboxDisposedError, TenantCodeError } from '../errors';
import {
  type Dispatch,
  type RequestLimits,
  type Sandbox,
  type SandboxOptions,
  type SandboxRequest,
  type SandboxResponse,
  type TenantLogRecord,
} from './types';

/** the reference library (tests, comparisons) has no CPU timeout: a single entry's wall time stands in for it */
const cpuTimeoutSupported = !safeResolve('../../native').includes('isolated-vm');
function safeResolve(id: string): string {
  try {
    return require.resolve(id);
  } catch {
    return '';
  }
}

const entryNames = ['dispatch', 'complete', 'fire', 'pull', 'cancel', 'finish', 'bindModule', 'bindScript'] as const;
type EntryName = (typeof entryNames)[number];

interface HostSource {
  run: RequestRun | null;
  iterator: AsyncIterator<Uint8Array>;
  limit: number;
  bytes: number;
  /** called once when the source passes its limit; returns the error the read fails with */
  onLimit(bytes: number): [string, string];
  cancel(): void;
  /** called once when the source ends, fails or is dropped */
  onClose?(): void;
}

interface HostOp {
  run: RequestRun | null;
  abort?(name: string): void;
}

interface SinkWaiter {
  resolve(chunk: Uint8Array | null): void;
  reject(error: Error): void;
}

const logLevels = new Set(['debug', 'info', 'log', 'warn', 'error']);
/** what #enter returns when the entry did not run to completion */
const FAILED = Symbol('entry failed');
/** the Content-Length of a response (flat header pairs) when it is at most `max`, else null */
function declaredSmallBody(headers: string[], max: number): number | null {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === 'content-length') return smallContentLength(headers[i + 1], max);
  return null;
}

/** every chunk of a body whose length is known to be at most `max`, as one array */
async function readWhole(body: AsyncIterator<Uint8Array>, max: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const step = await body.next();
    if (step.done) break;
    total += step.value.byteLength;
    if (total > max) {
      await body.return?.().catch(() => undefined);
      throw new TypeError(`the response body is longer than its Content-Length (${max} bytes)`);
    }
    chunks.push(step.value);
  }
  return chunks.length === 1 ? exactBytes(chunks[0]!) : new Uint8Array(Buffer.concat(chunks, total));
}

/** what a request that owned nothing on the host hands to the isolate's 'finish' entry */
const noIds: number[] = [];
/** the transfer option of every entry (arguments and result copied), made once rather than per entry */
const COPY = Object.freeze({ copy: true });

/** a body as the isolate sends it: null, text, bytes, a sink id to pull, or a host source passed through */
type HostBody = null | string | Uint8Array | number | { source: number };
function isPassThrough(body: HostBody): body is { source: number } {
  return body !== null && typeof body === 'object' && !(body instanceof Uint8Array) && typeof (body as { source?: unknown }).source === 'number';
}

class IsletSandbox implements Sandbox {
  readonly context: Context;
  #isolate: Isolate;
  #options: SandboxOptions;
  #entries = {} as Record<EntryName, Reference>;
  #runs = new Map<number, RequestRun>();
  #current: RequestRun | null = null;
  #inEntry = false;
  /** handler failures reported during the current entry, applied when it ends */
  #tenantFailures: [RequestRun, TenantCodeError][] = [];
  #nextRun = 1;
  #nextOp = 1;
  #nextSource = 1;
  #ops = new Map<number, HostOp>();
  /** fetches whose response arrived: an abort must still stop their body (op id -> abort) */
  #fetchAborters = new Map<number, (name: string) => void>();
  #timers = new Map<number, { run: RequestRun; handle: NodeJS.Timeout }>();
  #sources = new Map<number, HostSource>();
  #sinkWaiters = new Map<number, SinkWaiter>();
  #keys = new KeyTable();
  #zlib = new Map<number, { run: RequestRun; stream: ZlibStream }>();
  #nextZlib = 1;
  #guard: EgressGuard;
  #agent: Agent | null = null;
  #disposed = false;
  /** console output of top-level code (no request): capped like a request's */
  #topLevelLogBytes = 0;
  #topLevelNotice = false;

  constructor(isolate: Isolate, options: SandboxOptions, useCache = true) {
    this.#isolate = isolate;
    this.#options = options;
    this.#guard = new EgressGuard(options.egress);
    this.context = isolate.createContextSync();
    const install = runBootstrap(isolate, this.context, useCache);
    const bridge = new (isolateApi().Callback)((op: string, ...args: unknown[]) => this.#hostCall(op, args));
    const env = new (isolateApi().ExternalCopy)({ ...options.env }).copyInto();
    const api = install.applySync(undefined, [bridge, env], { result: { reference: true }, timeout: 1000 }) as Reference;
    for (const name of entryNames) this.#entries[name] = api.getSync(name, { reference: true }) as Reference;
    api.release();
    install.release();
  }

  get inFlight(): number {
    return this.#runs.size;
  }

  bindModule(namespace: Reference): void {
    this.#bind('bindModule', [namespace.derefInto()]);
  }

  bindScript(): void {
    this.#bind('bindScript', []);
  }

  #bind(entry: 'bindModule' | 'bindScript', args: unknown[]): void {
    try {
      this.#entries[entry].applySync(undefined, args, { timeout: this.#options.limits.wallMs });
    } catch (error) {
      const e = error as Error;
      throw new TenantCodeError(e.message, (e as { isolateStack?: string }).isolateStack ?? e.stack);
    }
  }

  dispatch(request: SandboxRequest, limits: RequestLimits = this.#options.limits): Dispatch {
    const run = new RequestRun(this.#nextRun++, request, limits);
    const result: Dispatch = {
      get response() {
        return run.response.promise;
      },
      get done() {
        return run.done.promise;
      },
    };
    if (this.#disposed || this.#isolate.isDisposed) {
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
    this.#armWallTimer(run);
    let bodySource: number | Uint8Array | null = null;
    if (request.body instanceof Uint8Array) {
      // read whole by the front (a small body): it enters with the request, no reads needed
      bodySource = exactBytes(request.body);
    } else if (request.body) {
      bodySource = this.#addSource(run, request.body[Symbol.asyncIterator](), limits.requestBodyBytes, (bytes) => {
        this.#cut(run, run.limitError('body', bytes));
        return ['TypeError', `the request body is larger than the limit of ${limits.requestBodyBytes} bytes`];
      });
    }
    this.#enter(run, 'dispatch', [run.id, request.method, request.url, request.headers, bodySource]);
    // answered within the call, with a whole body and nothing left running (the hot path): the
    // request is over now, and the caller can take both outcomes without waiting on promises
    if (!run.finished && run.over && run.response.resolved) this.#finish(run, null);
    if (run.response.resolved && run.done.resolved) {
      const response = run.response.value;
      const body = response.body;
      if (body === null || body instanceof Uint8Array) result.sync = { response: response as SandboxResponse & { body: Uint8Array | null }, account: run.done.value };
    }
    return result;
  }

  // ---- the wall-time limit -------------------------------------------------------------------
  // One timer per sandbox rather than one per request: it is due at the earliest deadline of
  // the requests in flight, and when it fires it cuts the overdue ones and re-arms for the next.
  // While nothing is in flight it stays armed but does not keep the process alive.

  #wallTimer: NodeJS.Timeout | null = null;
  #wallDue = Infinity;

  #armWallTimer(run: RequestRun): void {
    if (this.#wallTimer && this.#wallDue <= run.wallDeadline) {
      if (this.#runs.size === 1) this.#wallTimer.ref();
      return;
    }
    if (this.#wallTimer) clearTimeout(this.#wallTimer);
    this.#wallDue = run.wallDeadline;
    this.#wallTimer = setTimeout(() => this.#wallSweep(), Math.max(0, run.wallDeadline - performance.now()));
  }

  #wallSweep(): void {
    this.#wallTimer = null;
    this.#wallDue = Infinity;
    const now = performance.now();
    let next: RequestRun | null = null;
    for (const run of [...this.#runs.values()]) {
      if (run.finished) continue;
      if (run.wallDeadline <= now) this.#cut(run, run.limitError('wall', run.elapsedMs()));
      else if (!next || run.wallDeadline < next.wallDeadline) next = run;
    }
    if (next) this.#armWallTimer(next);
  }

  #dropWallTimer(): void {
    if (this.#wallTimer) clearTimeout(this.#wallTimer);
    this.#wallTimer = null;
    this.#wallDue = Infinity;
  }

  // ---- entering the isolate ----------------------------------------------------------------

  /** one synchronous entry, charged to `run`: the entry's (copied) result, or FAILED when it was cut or failed */
  #enter(run: RequestRun | null, entry: EntryName, args: unknown[]): unknown {
    if (this.#disposed || this.#isolate.isDisposed) return FAILED;
    if (run?.finished) return FAILED;
    if (this.#inEntry) {
      // never nest: the bridge is running inside an entry; go in again once it has returned
      queueMicrotask(() => this.#enter(run, entry, args));
      return undefined;
    }
    const limits = run?.limits ?? this.#options.limits;
    const wall = run ? run.remainingWallMs() : limits.wallMs;
    const cpu = run ? run.remainingCpuMs() : limits.cpuMs;
    if (run && wall <= 0) {
      this.#cut(run, run.limitError('wall', run.elapsedMs()));
      return FAILED;
    }
    if (run && cpu <= 0) {
      this.#cut(run, run.limitError('cpu', run.cpuMs()));
      return FAILED;
    }
    const options = {
      arguments: COPY,
      result: COPY,
      timeout: Math.max(1, Math.ceil(cpuTimeoutSupported ? wall : Math.min(wall, cpu))),
      cpuTimeout: Math.max(1, Math.ceil(cpu)),
    };
    const cpuBefore = run ? this.#isolate.cpuTime : 0n;
    this.#inEntry = true;
    this.#current = run;
    let failure: unknown = null;
    let result: unknown;
    try {
      result = this.#entries[entry].applySync(undefined, args, options);
    } catch (error) {
      failure = error;
    } finally {
      this.#inEntry = false;
      this.#current = null;
    }
    if (!this.#isolate.isDisposed && run) run.cpuNs += this.#isolate.cpuTime - cpuBefore;
    if (failure !== null) this.#entryFailed(run, failure);
    this.#applyTenantFailures();
    if (failure !== null) return FAILED;
    if (run && !run.finished && run.cpuMs() > run.limits.cpuMs) {
      this.#cut(run, run.limitError('cpu', run.cpuMs()));
      return FAILED;
    }
    // a handler that returned its Response synchronously answers through the dispatch entry's
    // result instead of a host('respond') call: one bridge crossing fewer on the hot path
    if (entry === 'dispatch' && run && Array.isArray(result)) this.#respond(run.id, result[0], result[1], result[2], result[3], result[4] === true);
    return result;
  }

  #entryFailed(run: RequestRun | null, error: unknown): void {
    const e = error as Error & { code?: string; isolateStack?: string };
    const stack = e?.isolateStack;
    const kind = isolateFailure(error);
    if (kind === 'memory') {
      this.#memoryKilled();
      return;
    }
    if (this.#isolate.isDisposed) {
      // disposed by its owner while a request was inside: not the tenant's doing
      this.dispose();
      return;
    }
    if (!run) {
      this.#log(null, 'error', `islet: an entry outside any request failed: ${e?.message ?? String(error)}`);
      return;
    }
    if (kind === 'cpu') {
      this.#cut(run, run.limitError('cpu', run.cpuMs(), stack));
    } else if (kind === 'wall') {
      this.#cut(run, run.limitError('wall', run.elapsedMs(), stack));
    } else {
      // the shims catch every tenant exception, so this is a failure of the plumbing itself
      this.#fail(run, new TenantCodeError(`the request could not be handed to the isolate: ${e?.message ?? String(error)}`, stack ?? e?.stack));
    }
  }

  #applyTenantFailures(): void {
    if (this.#tenantFailures.length === 0) return;
    const failures = this.#tenantFailures;
    this.#tenantFailures = [];
    if (this.#isolate.isDisposed && !this.#disposed) {
      // killed after the entry returned: the failures were the memory budget's doing
      this.#memoryKilled();
      return;
    }
    for (const [run, error] of failures) this.#fail(run, error);
  }

  // ---- the end of a request --------------------------------------------------------------------

  #fail(run: RequestRun, error: Error): void {
    if (run.finished) return;
    if (!run.answered) {
      run.answered = true;
      run.bodyDone = true;
      run.response.reject(error);
    }
    this.#maybeFinish(run);
  }

  /** a limit cut the request: fail what is still open and finish it now */
  #cut(run: RequestRun, error: LimitExceededError): void {
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

  #maybeFinish(run: RequestRun): void {
    if (!run.finished && run.over) this.#finish(run, null);
  }

  #finish(run: RequestRun, reason: string | null): void {
    if (run.finished) return;
    run.finished = true;
    this.#runs.delete(run.id);
    if (this.#runs.size === 0) this.#wallTimer?.unref();
    let timers: number[] = noIds;
    let ops: number[] = noIds;
    if (run.ownsAnything) {
      timers = [...run.timers];
      for (const id of timers) this.#clearTimer(id);
      ops = [...run.ops];
      for (const id of ops) {
        this.#ops.get(id)?.abort?.('AbortError');
        this.#ops.delete(id);
      }
      run.ops.clear();
      for (const id of run.sources) this.#dropSource(id);
      for (const id of run.zlib) this.#closeZlib(id);
      for (const id of run.sinks) {
        this.#sinkWaiters.get(id)?.reject(run.limit ?? new Error('the request finished'));
        this.#sinkWaiters.delete(id);
        this.#enter(null, 'cancel', [id, reason ?? 'the request finished']);
      }
    }
    // the isolate forgets a request on its own when it answered with a plain body; come back in
    // only when something is left there (timers, a signal to abort, stream or waitUntil state)
    if (!run.releasedByIsolate || timers.length > 0 || ops.length > 0 || reason !== null) this.#enter(null, 'finish', [run.id, reason, timers, ops]);
    // cut after the response started: the body and `done` fail (the account stays on the error's run)
    if (run.limit && run.responded) {
      run.limit.account = run.account();
      run.done.reject(run.limit);
    } else run.done.resolve(run.account());
  }

  #memoryKilled(): void {
    const runs = [...this.#runs.values()];
    for (const run of runs) this.#cut(run, run.limitError('memory', 0));
    this.#teardown();
  }

  // ---- the bridge: calls from the isolate ----------------------------------------------------

  #hostCall(op: string, args: unknown[]): unknown {
    const run = this.#current;
    switch (op) {
      case 'respond':
        return this.#respond(args[0] as number, args[1] as number, args[2] as string, args[3] as string[], args[4] as never, args[5] === true);
      case 'fail': {
        const target = this.#runs.get(args[0] as number);
        // applied once the entry is over: if the isolate was killed for memory meanwhile (an
        // uncaught 'Array buffer allocation failed' is the usual first sign), memory wins
        if (target) this.#tenantFailures.push([target, new TenantCodeError(String(args[1]), String(args[2]))]);
        return undefined;
      }
      case 'wait': {
        const target = this.#runs.get(args[0] as number);
        if (target) {
          target.waits += args[1] as number;
          if (target.over) queueMicrotask(() => this.#maybeFinish(target));
        }
        return undefined;
      }
      case 'log':
        this.#log(run, args[0] as string, args[1] as string);
        return undefined;
      case 'timer':
        // outside a request nobody's budget would pay for the callbacks (as in Workers, timers
        // and fetch exist only while a request is being handled)
        if (!run) throw new Error('setTimeout/setInterval can only be used while handling a request (not in top-level code)');
        this.#setTimer(run, args[0] as number, args[1] as number, args[2] as boolean);
        return undefined;
      case 'clearTimer':
        this.#clearTimer(args[0] as number);
        return undefined;
      case 'read':
        return this.#read(run, args[0] as number);
      case 'cancelSource':
        this.#dropSource(args[0] as number);
        return undefined;
      case 'chunk':
        this.#chunk(args[0] as number, args[1] as boolean, args[2] as Uint8Array | null, args[3] as string | null);
        return undefined;
      case 'fetch':
        if (!run) throw new TypeError('fetch() can only be used while handling a request (not in top-level code)');
        return this.#fetch(run, args);
      case 'abortOp': {
        const opId = args[0] as number;
        (this.#ops.get(opId)?.abort ?? this.#fetchAborters.get(opId))?.(String(args[1]));
        return undefined;
      }
      case 'zlibOpen': {
        if (!run) throw new TypeError('CompressionStream/DecompressionStream can only be used while handling a request');
        const id = this.#nextZlib++;
        this.#zlib.set(id, { run, stream: new ZlibStream(args[0], args[1]) });
        run.zlib.add(id);
        return id;
      }
      case 'zlibWrite':
      case 'zlibEnd': {
        const entry = this.#zlib.get(args[0] as number);
        const id = this.#newOp(run);
        if (!entry) {
          queueMicrotask(() => this.#complete(id, false, ['TypeError', 'the compression stream is closed']));
          return id;
        }
        const work = op === 'zlibWrite' ? entry.stream.write(args[1]) : entry.stream.end();
        work.then(
          (out) => {
            if (op === 'zlibEnd') this.#closeZlib(args[0] as number);
            this.#complete(id, true, out);
          },
          (error: Error) => {
            this.#closeZlib(args[0] as number);
            this.#complete(id, false, ['TypeError', error.message]);
          },
        );
        return id;
      }
      case 'zlibClose':
        this.#closeZlib(args[0] as number);
        return undefined;
      case 'subtle':
        return this.#subtle(run, args[0], args[1]);
      case 'url':
        return parseURL(args[0], args[1]);
      case 'urlSet':
        return setURL(args[0], args[1], args[2]);
      case 'clone':
        return args[0];
      case 'random':
        return randomBytes(args[0]);
      case 'uuid':
        return crypto.randomUUID();
      case 'utf8Encode':
        return utf8Encode(args[0]);
      case 'utf8Decode':
        return utf8Decode(args[0], args[1]);
      default:
        throw new Error(`islet bridge: unknown operation ${String(op)}`);
    }
  }

  #respond(id: number, status: number, statusText: string, headers: string[], body: HostBody, released: boolean): void {
    const run = this.#runs.get(id);
    if (!run || run.answered) return;
    run.answered = true;
    run.releasedByIsolate = released;
    let payload: SandboxResponse['body'] = null;
    if (isPassThrough(body)) {
      payload = this.#passThrough(run, body.source, run.limits.responseBodyBytes, {
        onEnd: () => this.#responseBodyEnded(run),
        onLimit: (bytes) => this.#responseBodyOverLimit(run, bytes),
      });
      if (!payload) {
        run.answered = false;
        queueMicrotask(() => this.#fail(run, new TenantCodeError('TypeError: the response body (a stream from the host) was already read or closed')));
        return;
      }
    } else if (typeof body === 'number') {
      run.sinks.add(body);
      payload = this.#sinkBody(run, body, run.limits.responseBodyBytes, {
        onEnd: () => {
          run.sinks.delete(body);
          this.#responseBodyEnded(run);
        },
        onLimit: (bytes) => this.#responseBodyOverLimit(run, bytes),
      });
    } else {
      const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
      run.bodyDone = true;
      if (bytes && bytes.byteLength > run.limits.responseBodyBytes) {
        run.answered = false;
        queueMicrotask(() => this.#cut(run, run.limitError('body', bytes.byteLength)));
        return;
      }
      payload = bytes && bytes.byteLength ? bytes : null;
    }
    run.responded = true;
    run.response.resolve({ status, statusText, headers, body: payload });
    if (run.over) queueMicrotask(() => this.#maybeFinish(run));
  }

  /** a streamed response body (passed through from the host, or pulled from the isolate) is done: the request may be over */
  #responseBodyEnded(run: RequestRun): void {
    run.bodyDone = true;
    queueMicrotask(() => this.#maybeFinish(run));
  }

  /** a streamed response body passed its limit: the request is cut (once the current read has failed) */
  #responseBodyOverLimit(run: RequestRun, bytes: number): LimitExceededError {
    const error = run.limitError('body', bytes);
    queueMicrotask(() => this.#cut(run, error));
    return error;
  }

  #log(run: RequestRun | null, level: string, message: string): void {
    const text = String(message);
    const cap = (run?.limits ?? this.#options.limits).logBytes;
    const used = run ? (run.logBytes += text.length) : (this.#topLevelLogBytes += text.length);
    if (used > cap) {
      const noticed = run ? run.logNoticeSent : this.#topLevelNotice;
      if (noticed) return;
      if (run) run.logNoticeSent = true;
      else this.#topLevelNotice = true;
      this.#emit(run, 'warn', `islet: console output past ${cap} bytes dropped for this ${run ? 'request' : 'isolate'}`);
      return;
    }
    this.#emit(run, logLevels.has(level) ? level : 'log', text);
  }

  #emit(run: RequestRun | null, level: string, message: string): void {
    const record: TenantLogRecord = {
      level: level as TenantLogRecord['level'],
      message,
      tenant: this.#options.tenant,
      deployment: this.#options.deployment,
    };
    if (run) record.requestId = run.request.id;
    try {
      this.#options.log(record);
    } catch {
      // a failing log sink must not break the tenant's request
    }
  }

  // ---- timers --------------------------------------------------------------------------------

  #setTimer(run: RequestRun, id: number, ms: number, repeat: boolean): void {
    const delay = Math.min(Math.max(0, Number(ms) || 0), 2 ** 31 - 1);
    const fire = () => {
      if (!repeat) {
        this.#timers.delete(id);
        run.timers.delete(id);
      }
      this.#enter(run, 'fire', [id]);
    };
    const handle = repeat ? setInterval(fire, Math.max(1, delay)) : setTimeout(fire, delay);
    this.#timers.set(id, { run, handle });
    run.timers.add(id);
  }

  #clearTimer(id: number): void {
    const timer = this.#timers.get(id);
    if (!timer) return;
    clearTimeout(timer.handle);
    this.#timers.delete(id);
    timer.run.timers.delete(id);
  }

  // ---- host byte sources (request body, fetch response bodies) -------------------------------

  #addSource(run: RequestRun | null, iterator: AsyncIterator<Uint8Array>, limit: number, onLimit: (bytes: number) => [string, string], cancel?: () => void, onClose?: () => void): number {
    const id = this.#nextSource++;
    this.#sources.set(id, {
      run,
      iterator,
      limit,
      bytes: 0,
      onLimit,
      cancel: cancel ?? (() => void iterator.return?.().catch(() => {})),
      onClose,
    });
    run?.sources.add(id);
    return id;
  }

  #dropSource(id: number): void {
    const source = this.#sources.get(id);
    if (!source) return;
    this.#sources.delete(id);
    source.run?.sources.delete(id);
    source.onClose?.();
    try {
      source.cancel();
    } catch {
      // already closed
    }
  }

  #newOp(run: RequestRun | null, op: HostOp = { run }): number {
    const id = this.#nextOp++;
    this.#ops.set(id, op);
    run?.ops.add(id);
    return id;
  }

  #complete(id: number, ok: boolean, value: unknown): void {
    const op = this.#ops.get(id);
    if (!op) return;
    this.#ops.delete(id);
    op.run?.ops.delete(id);
    if (op.run?.finished) return;
    this.#enter(op.run, 'complete', [id, ok, value]);
  }

  #read(run: RequestRun | null, sourceId: number): number {
    const id = this.#newOp(run);
    const source = this.#sources.get(sourceId);
    if (!source) {
      queueMicrotask(() => this.#complete(id, false, ['TypeError', 'the body stream is closed']));
      return id;
    }
    source.iterator.next().then(
      (result) => {
        if (!this.#sources.has(sourceId)) return this.#complete(id, false, ['TypeError', 'the body stream was cancelled']);
        if (result.done) {
          this.#sources.delete(sourceId);
          source.run?.sources.delete(sourceId);
          source.onClose?.();
          return this.#complete(id, true, null);
        }
        const chunk = result.value;
        source.bytes += chunk.byteLength;
        if (source.bytes > source.limit) {
          const failure = source.onLimit(source.bytes);
          this.#dropSource(sourceId);
          return this.#complete(id, false, failure);
        }
        this.#complete(id, true, exactBytes(chunk));
      },
      (error: Error) => {
        this.#sources.delete(sourceId);
        source.run?.sources.delete(sourceId);
        source.onClose?.();
        this.#complete(id, false, error?.name === 'AbortError' || error?.name === 'TimeoutError' ? [error.name, error.message] : ['TypeError', `reading the body failed: ${error?.message ?? error}`]);
      },
    );
    return id;
  }

  // ---- isolate streams pulled by the host (response bodies, fetch request bodies) -------------

  #sinkBody(run: RequestRun, sinkId: number, limit: number, hooks: { onEnd(): void; onLimit(bytes: number): Error }): AsyncIterable<Uint8Array> {
    let total = 0;
    let ended = false;
    let failure: Error | null = null;
    const end = () => {
      if (!ended) {
        ended = true;
        hooks.onEnd();
      }
    };
    if (run.failBody === null) run.failBody = (error) => {
      failure = error;
      this.#sinkWaiters.get(sinkId)?.reject(error);
      this.#sinkWaiters.delete(sinkId);
    };
    const iterator: AsyncIterator<Uint8Array> & AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => iterator,
      next: async () => {
        if (failure) throw failure;
        if (ended) return { done: true, value: undefined };
        const chunk = await new Promise<Uint8Array | null>((resolve, reject) => {
          this.#sinkWaiters.set(sinkId, { resolve, reject });
          if (this.#enter(run, 'pull', [sinkId]) === FAILED && this.#sinkWaiters.has(sinkId)) {
            this.#sinkWaiters.delete(sinkId);
            reject(run.limit ?? new SandboxDisposedError());
          }
        }).catch((error: Error) => {
          end();
          throw error;
        });
        if (chunk === null) {
          end();
          return { done: true, value: undefined };
        }
        total += chunk.byteLength;
        if (total > limit) {
          failure = hooks.onLimit(total);
          this.#enter(null, 'cancel', [sinkId, 'body limit']);
          end();
          throw failure;
        }
        return { done: false, value: chunk };
      },
      return: async () => {
        if (!ended) {
          this.#enter(null, 'cancel', [sinkId, 'the consumer stopped reading']);
          end();
        }
        return { done: true, value: undefined };
      },
    };
    return iterator;
  }

  /**
   * A host byte source the isolate handed back untouched (`new Response(request.body)`, a
   * proxied fetch body): the host consumer reads it directly, with no entry per chunk.
   */
  #passThrough(run: RequestRun, sourceId: number, limit: number, hooks: { onEnd(): void; onLimit(bytes: number): Error }): AsyncIterable<Uint8Array> | null {
    const source = this.#sources.get(sourceId);
    if (!source) return null;
    this.#sources.delete(sourceId);
    run.sources.delete(sourceId);
    let total = 0;
    let ended = false;
    let failure: Error | null = null;
    const end = () => {
      if (ended) return;
      ended = true;
      source.onClose?.();
      hooks.onEnd();
    };
    const stop = (error: Error) => {
      failure = error;
      try {
        source.cancel();
      } catch {
        // already closed
      }
      end();
    };
    if (run.failBody === null) run.failBody = stop;
    const iterator: AsyncIterator<Uint8Array> & AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => iterator,
      next: async () => {
        if (failure) throw failure;
        if (ended) return { done: true, value: undefined };
        let result: IteratorResult<Uint8Array>;
        try {
          result = await source.iterator.next();
        } catch (error) {
          end();
          throw error;
        }
        if (failure) throw failure;
        if (result.done) {
          end();
          return { done: true, value: undefined };
        }
        source.bytes += result.value.byteLength;
        total += result.value.byteLength;
        if (source.bytes > source.limit) {
          const [, message] = source.onLimit(source.bytes);
          stop(new TypeError(message));
          throw failure!;
        }
        if (total > limit) {
          stop(hooks.onLimit(total));
          throw failure!;
        }
        return { done: false, value: result.value };
      },
      return: async () => {
        if (!ended) stop(new Error('the consumer stopped reading'));
        return { done: true, value: undefined };
      },
    };
    return iterator;
  }

  #chunk(sinkId: number, done: boolean, bytes: Uint8Array | null, error: string | null): void {
    const waiter = this.#sinkWaiters.get(sinkId);
    if (!waiter) return;
    this.#sinkWaiters.delete(sinkId);
    if (error !== null) waiter.reject(new TenantCodeError(`the body stream failed: ${error.split('\n')[0]}`, error));
    else waiter.resolve(done ? null : (bytes ?? new Uint8Array(0)));
  }

  // ---- fetch ---------------------------------------------------------------------------------

  #fetch(run: RequestRun, args: unknown[]): number {
    const [method, url, headers, body, redirect] = args as [string, string, string[], HostBody, 'follow' | 'error' | 'manual'];
    const limits = run.limits;
    const controller = new AbortController();
    const id = this.#newOp(run, {
      run,
      abort: (name) => controller.abort(new DOMException(name === 'TimeoutError' ? 'The operation timed out' : 'The operation was aborted', name === 'TimeoutError' ? 'TimeoutError' : 'AbortError')),
    });
    const refuse = (message: string) => {
      this.#subrequestDone(0);
      queueMicrotask(() => this.#complete(id, false, ['TypeError', message]));
      return id;
    };
    if (run.subrequests >= limits.subrequests) return refuse(`fetch: too many subrequests (the limit is ${limits.subrequests} per request)`);
    run.subrequests++;
    let requestBody: Uint8Array | string | AsyncIterable<Uint8Array> | null = null;
    if (isPassThrough(body)) {
      requestBody = this.#passThrough(run, body.source, limits.requestBodyBytes, {
        onEnd: () => {},
        onLimit: (bytes) => new TypeError(`fetch: the request body passed ${limits.requestBodyBytes} bytes (${bytes})`),
      });
      if (!requestBody) {
        run.subrequests--;
        return refuse('fetch: the request body (a stream from the host) was already read or closed');
      }
    } else if (typeof body === 'number') {
      run.sinks.add(body);
      requestBody = this.#sinkBody(run, body, limits.requestBodyBytes, {
        onEnd: () => run.sinks.delete(body),
        onLimit: (bytes) => new TypeError(`fetch: the request body passed ${limits.requestBodyBytes} bytes (${bytes})`),
      });
    } else requestBody = body;
    this.#agent ??= createEgressAgent(this.#guard);
    const timeout = setTimeout(() => controller.abort(new DOMException(`fetch: no response within ${limits.subrequestTimeoutMs} ms`, 'TimeoutError')), limits.subrequestTimeoutMs);
    performFetch(this.#agent, { method, url, headers, body: requestBody, redirect, signal: controller.signal }).then(
      (result) => {
        this.#subrequestDone(result.status);
        if (run.finished || this.#disposed) {
          // the request ended while the response was on its way: nobody will read this body
          clearTimeout(timeout);
          controller.abort(new DOMException('the request ended', 'AbortError'));
          return;
        }
        const small = result.body ? declaredSmallBody(result.headers, Math.min(limits.subrequestResponseBytes, SMALL_BODY_BYTES)) : null;
        if (small !== null) {
          // A small body announced by its length is read before the response is handed over:
          // the isolate gets the bytes with the status and headers, in one entry instead of one
          // per chunk plus one for the end (the common proxy/API call). The subrequest's time
          // limit and an abort still apply while it is read.
          readWhole(result.body!, small).then(
            (bytes) => {
              clearTimeout(timeout);
              if (run.finished || this.#disposed) return;
              this.#complete(id, true, [result.status, result.statusText, result.headers, bytes, result.urlList, result.redirected]);
            },
            (error) => {
              clearTimeout(timeout);
              this.#complete(id, false, fetchErrorMessage(error));
            },
          );
          return;
        }
        let source: number | null = null;
        if (result.body) {
          source = this.#addSource(
            run,
            result.body,
            limits.subrequestResponseBytes,
            (bytes) => {
              clearTimeout(timeout);
              return ['TypeError', `fetch: the response body of ${url} passed the limit of ${limits.subrequestResponseBytes} bytes (${bytes})`];
            },
            () => {
              // the body's iterator holds the stream's lock, so cancelling the stream itself
              // would be refused: aborting the fetch is what closes the upstream connection
              clearTimeout(timeout);
              controller.abort(new DOMException('the body is no longer needed', 'AbortError'));
            },
            () => {
              clearTimeout(timeout);
              this.#fetchAborters.delete(id);
            },
          );
          this.#fetchAborters.set(id, (name) => {
            controller.abort(new DOMException('The operation was aborted', name === 'TimeoutError' ? 'TimeoutError' : 'AbortError'));
          });
        } else clearTimeout(timeout);
        this.#complete(id, true, [result.status, result.statusText, result.headers, source, result.urlList, result.redirected]);
      },
      (error) => {
        clearTimeout(timeout);
        this.#subrequestDone(0);
        this.#complete(id, false, fetchErrorMessage(error));
      },
    );
    return id;
  }

  #closeZlib(id: number): void {
    const entry = this.#zlib.get(id);
    if (!entry) return;
    this.#zlib.delete(id);
    entry.run.zlib.delete(id);
    entry.stream.close();
  }

  #subrequestDone(status: number): void {
    try {
      this.#options.onSubrequest?.(status);
    } catch {
      // an observer failure must not become an unhandled rejection
    }
  }

  // ---- crypto.subtle -------------------------------------------------------------------------

  #subtle(run: RequestRun | null, method: unknown, args: unknown): number {
    const id = this.#newOp(run);
    this.#keys.call(method, args).then(
      (result) => this.#complete(id, true, result),
      (error) => this.#complete(id, false, subtleErrorParts(error)),
    );
    return id;
  }

  // ---- disposal ------------------------------------------------------------------------------

  #teardown(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const { handle } of this.#timers.values()) clearTimeout(handle);
    this.#timers.clear();
    for (const op of this.#ops.values()) op.abort?.('AbortError');
    this.#ops.clear();
    for (const abort of this.#fetchAborters.values()) abort('AbortError');
    this.#fetchAborters.clear();
    for (const id of [...this.#sources.keys()]) this.#dropSource(id);
    for (const waiter of this.#sinkWaiters.values()) waiter.reject(new SandboxDisposedError());
    this.#sinkWaiters.clear();
    this.#keys.clear();
    for (const id of [...this.#zlib.keys()]) this.#closeZlib(id);
    this.#agent?.destroy().catch(() => {});
    this.#agent = null;
  }

  dispose(): void {
    if (this.#disposed) return;
    const runs = [...this.#runs.values()];
    this.#teardown();
    this.#dropWallTimer();
    for (const run of runs) {
      run.finished = true;
      const error = new SandboxDisposedError();
      if (!run.answered) run.response.reject(error);
      run.done.resolve(run.account());
    }
    this.#runs.clear();
    if (!this.#isolate.isDisposed) {
      for (const name of entryNames) {
        try {
          this.#entries[name].release();
        } catch {
          // the isolate went away meanwhile
        }
      }
      try {
        this.context.release();
      } catch {
        // as above
      }
    }
  }
}

/** once per process: run the bootstrap and one request in a scratch isolate, then cache the code */
function warmBootstrapCache(options: SandboxOptions): void {
  const isolate = new (isolateApi().Isolate)({ memoryLimit: 64 });
  try {
    const sandbox = new IsletSandbox(isolate, { ...options, env: {}, log() {}, onSubrequest: undefined }, false);
    try {
      // only the eager part and the request path: caching the lazy globals too was measured to
      // add ~0.2 ms to every cold start to save ~0.5 ms on a stream's first use
      sandbox.context.evalSync(`addEventListener('fetch', (e) => e.respondWith(new Response('warm ' + new URL(e.request.url).pathname + e.request.headers.get('accept'), { headers: { 'content-type': 'text/plain' } })))`);
      sandbox.bindScript();
      const dispatch = sandbox.dispatch({ id: 'warm-up', method: 'GET', url: 'http://warm.test/', headers: ['accept', '*/*'], body: null });
      dispatch.response.catch(() => {});
    } finally {
      sandbox.dispose();
    }
    produceBootstrapCache(isolate);
  } catch {
    // a cache is an optimisation: without one every isolate compiles the bootstrap itself
  } finally {
    isolate.dispose();
  }
}

/**
 * Produces the process's bootstrap code cache now (20-40 ms, once) instead of inside the first
 * createSandbox: a server can call it at start-up so no tenant's first request pays for it.
 */
export function warmUpSandboxes(options: SandboxOptions): void {
  if (!hasBootstrapCache()) warmBootstrapCache(options);
}

/** `tuning.codeCache: false` compiles the bootstrap without the process's code cache (benchmarks) */
export function createSandbox(isolate: Isolate, options: SandboxOptions, tuning: { codeCache?: boolean } = {}): Sandbox {
  const useCache = tuning.codeCache !== false;
  if (useCache && !hasBootstrapCache()) warmBootstrapCache(options);
  return new IsletSandbox(isolate, options, useCache);
}
