// What every binding op checks before it does anything: that it is made while a request (or a
// cron run) is handled, and that the request has operations left (limits.bindingOps, counted
// over KV and the Cache API together, as Workers counts its "API requests" per invocation). A
// refusal is answered through the op's completion, after the current entry, like any failure.
import type { ErrorParts } from '../bridge/ops';
import type { Completion } from '../bridge/table';
import type { Caller, RequestRun } from '../host/run';

export class OpBudget {
  readonly #used = new WeakMap<RequestRun, number>();
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** the run the op is charged to, or null after answering the op with why it is refused */
  take(caller: Caller, op: Completion<unknown>, what: string): RequestRun | null {
    if (caller === null) {
      refuse(op, ['TypeError', `${what} can only be used while handling a request (not in top-level code)`]);
      return null;
    }
    const used = this.#used.get(caller) ?? 0;
    if (used >= this.#limit) {
      const message =
        `Too many API requests by single Worker invocation: ${what} refused ` +
        `(islet allows ${this.#limit} KV and cache operations per request)`;
      refuse(op, ['Error', message]);
      return null;
    }
    this.#used.set(caller, used + 1);
    return caller;
  }

  /** operations `run` made so far */
  used(run: RequestRun): number {
    return this.#used.get(run) ?? 0;
  }
}

/** answers `op` with a failure once the current entry is over */
export function refuse(op: Completion<unknown>, error: ErrorParts): void {
  queueMicrotask(() => op.reject(error));
}

/** runs `work` once the current entry is over (the host's work is never done inside the tenant's entry) */
export function later<T>(op: Completion<T>, work: () => Promise<T> | T, failure: (error: unknown) => ErrorParts): void {
  queueMicrotask(() => {
    let result: Promise<T> | T;
    try {
      result = work();
    } catch (error) {
      op.reject(failure(error));
      return;
    }
    Promise.resolve(result).then(
      (value) => op.resolve(value),
      (error) => op.reject(failure(error)),
    );
  });
}
