// The host half of unhandled promise rejections (runtime-shims/internal/promise-rejections.ts):
// the isolate says, during an entry, that promises were rejected with no handler; once that entry
// is over (its microtasks ran, so a handler attached a moment later counts), the host calls the
// `rejections` entry, which fires the events and logs what stayed unhandled. It is charged to the
// request that was running (or to top-level budgets when that request is over).
import type { IsolateEntry } from './entry';
import type { Caller, HostOpHandlers, RequestRun } from './run';

export class PromiseRejections {
  readonly #entry: () => IsolateEntry;
  #due = false;
  #run: RequestRun | null = null;

  /** `entry`: the sandbox's, read when needed (it is made after this) */
  constructor(entry: () => IsolateEntry) {
    this.#entry = entry;
  }

  readonly ops: HostOpHandlers<'rejectionsPending'> = {
    rejectionsPending: (caller: Caller) => {
      this.#due = true;
      this.#run = caller;
    },
  };

  /** after every entry: the notifications it asked for */
  afterEntry(): void {
    if (!this.#due) return;
    this.#due = false;
    const run = this.#run;
    this.#run = null;
    this.#entry().enter(run && !run.finished ? run : null, 'rejections', []);
  }

  dispose(): void {
    this.#due = false;
    this.#run = null;
  }
}
