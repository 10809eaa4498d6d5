// Entering the isolate. Every entry is a synchronous `applySync` on one of the functions the
// shims' install() returned (server/bridge/ops.ts IsolateEntries), made from Node's thread with
// the request's remaining budgets as time limits, and its CPU time is charged to the request it
// serves. Entries never nest: the isolate calls the host through the bridge during an entry, and
// a host call that wants to go back in (an op completed at once, say) is queued until it returns.
//
// What comes out is told to the sandbox through EntryEvents: a limit cut (the entry ran out of
// time, or the request's CPU is spent), another failure (the memory limit, a disposal, broken
// plumbing), the handler's synchronous answer, and the end of every entry.
import { type LimitExceededError, TenantCodeError } from '../errors';
import { entryNames, type EntryArgs, type EntryName, type EntryResult, type ResponseAnswer } from '../bridge/ops';
import { isolateFailure, onReferenceLibrary, type IsolateFailure, type Isolate, type Reference } from './isolate-api';
import { entryWatch } from './entry-watch';
import type { RequestRun } from './run';
import type { RequestLimits } from './types';

/** what `enter` returns when the entry did not run to completion (cut, failed, or the sandbox is gone) */
export const FAILED = Symbol('entry failed');

export interface EntryEvents {
  /** a limit cut the request */
  cut(run: RequestRun, error: LimitExceededError): void;
  /** the entry failed otherwise: `kind` from the addon's error code (null: the plumbing itself failed) */
  failed(run: RequestRun | null, kind: IsolateFailure | null, error: Error & { isolateStack?: string }): void;
  /** the dispatch entry returned the handler's answer (a Response returned synchronously) */
  answered(run: RequestRun, answer: ResponseAnswer): void;
  /** after every entry that ran */
  ended(): void;
}

/** the transfer option of every entry (arguments and result copied), made once rather than per entry */
const COPY = Object.freeze({ copy: true });

export class IsolateEntry {
  readonly #isolate: Isolate;
  /** whose code runs in here (told to the process's EntryWatcher around every entry) */
  readonly #tenant: string;
  readonly #entries = {} as Record<EntryName, Reference>;
  readonly #defaults: RequestLimits;
  readonly #events: EntryEvents;
  #inEntry = false;
  #current: RequestRun | null = null;
  #closed = false;

  /** `api`: the object install() returned, whose functions become the entries */
  constructor(isolate: Isolate, api: Reference, defaults: RequestLimits, events: EntryEvents, tenant = '') {
    this.#isolate = isolate;
    this.#tenant = tenant;
    this.#defaults = defaults;
    this.#events = events;
    for (const name of entryNames) this.#entries[name] = api.getSync(name, { reference: true }) as Reference;
  }

  /** the request whose entry is running now (null between entries or outside any request) */
  get current(): RequestRun | null {
    return this.#current;
  }

  /** the sandbox was torn down, or V8 disposed the isolate (memory kill) */
  get closed(): boolean {
    return this.#closed || this.#isolate.isDisposed;
  }

  /** V8 disposed the isolate while the sandbox was still open: its memory limit killed it */
  get isolateGone(): boolean {
    return !this.#closed && this.#isolate.isDisposed;
  }

  /** one synchronous entry, charged to `run`: its (copied) result, or FAILED when it was cut or failed */
  enter<E extends EntryName>(
    run: RequestRun | null,
    entry: E,
    args: EntryArgs<E>,
  ): EntryResult<E> | typeof FAILED | undefined {
    if (this.closed || run?.finished) return FAILED;
    if (this.#inEntry) {
      // never nest: the bridge is running inside an entry; go in again once it has returned
      queueMicrotask(() => this.enter(run, entry, args));
      return undefined;
    }
    const limits = run?.limits ?? this.#defaults;
    const wall = run ? run.remainingWallMs() : limits.wallMs;
    const cpu = run ? run.remainingCpuMs() : limits.cpuMs;
    if (run && wall <= 0) {
      this.#events.cut(run, run.limitError('wall', run.elapsedMs()));
      return FAILED;
    }
    if (run && cpu <= 0) {
      this.#events.cut(run, run.limitError('cpu', run.cpuMs()));
      return FAILED;
    }
    // the reference library (comparisons) has no CPU timeout: there, the entry's wall time stands in for it
    const cpuBound = onReferenceLibrary() && cpu < wall;
    const options = {
      arguments: COPY,
      result: COPY,
      timeout: Math.max(1, Math.ceil(cpuBound ? cpu : wall)),
      cpuTimeout: Math.max(1, Math.ceil(cpu)),
    };
    const cpuBefore = run ? this.#isolate.cpuTime : 0n;
    this.#inEntry = true;
    this.#current = run;
    const watcher = entryWatch.watcher;
    watcher?.entering(this.#tenant);
    let failure: unknown = null;
    let result: unknown;
    try {
      result = this.#entries[entry].applySync(undefined, args, options);
    } catch (error) {
      failure = error;
    } finally {
      this.#inEntry = false;
      this.#current = null;
      watcher?.left();
    }
    if (!this.#isolate.isDisposed && run) run.cpuNs += this.#isolate.cpuTime - cpuBefore;
    if (failure !== null) this.#failed(run, failure, cpuBound);
    this.#events.ended();
    if (failure !== null) return FAILED;
    if (run && !run.finished && run.cpuMs() > run.limits.cpuMs) {
      this.#events.cut(run, run.limitError('cpu', run.cpuMs()));
      return FAILED;
    }
    // a handler that returned its Response synchronously answers through the dispatch entry's
    // result instead of a `respond` op: one bridge crossing fewer on the hot path
    if (entry === 'dispatch' && run && Array.isArray(result)) this.#events.answered(run, result as ResponseAnswer);
    return result as EntryResult<E>;
  }

  /** runs a binding entry (no request); a failure becomes a TenantCodeError with the isolate's stack */
  bind(entry: 'bindModule' | 'bindScript', args: unknown[]): void {
    const watcher = entryWatch.watcher;
    watcher?.entering(this.#tenant);
    try {
      this.#entries[entry].applySync(undefined, args, { timeout: this.#defaults.wallMs });
    } catch (error) {
      const e = error as Error & { isolateStack?: string };
      throw new TenantCodeError(e.message, e.isolateStack ?? e.stack);
    } finally {
      watcher?.left();
    }
  }

  /** `cpuBound`: the entry's timeout was the request's CPU budget (the reference library) */
  #failed(run: RequestRun | null, error: unknown, cpuBound: boolean): void {
    const e = (error instanceof Error ? error : new Error(String(error))) as Error & { isolateStack?: string };
    let kind = isolateFailure(error);
    if (kind === 'wall' && cpuBound) kind = 'cpu';
    // an isolate disposed under the entry, by its owner, whatever the error says
    if (kind !== 'memory' && this.#isolate.isDisposed) kind = 'disposed';
    if (run && (kind === 'cpu' || kind === 'wall')) {
      const measured = kind === 'cpu' ? run.cpuMs() : run.elapsedMs();
      this.#events.cut(run, run.limitError(kind, measured, e.isolateStack));
      return;
    }
    this.#events.failed(run, kind, e);
  }

  /** no more entries; the references are released while the isolate still lives */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#isolate.isDisposed) return;
    for (const name of entryNames) {
      try {
        this.#entries[name].release();
      } catch {
        // the isolate went away meanwhile
      }
    }
  }
}
