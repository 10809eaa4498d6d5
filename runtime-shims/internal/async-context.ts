// The async context slot behind node:async_hooks' AsyncLocalStorage. Part 1 of issue 18 keeps it
// in this module: it is set around synchronous code (`run`) and carried into the callbacks the
// shims schedule themselves (timers, queueMicrotask, process.nextTick). It does not yet follow
// `await` and promise reactions: that needs V8's continuation-preserved embedder data, which the
// addon is gaining; `get`/`set` are the whole interface, so wiring them to it changes only this file.
import { ReflectApply } from './primordials';

let current: unknown;

export interface AsyncContext {
  get(): unknown;
  set(value: unknown): void;
}

export const asyncContext: AsyncContext = {
  get: () => current,
  set: (value: unknown) => {
    current = value;
  },
};

/** calls `fn` with the context `value` in force, restoring the previous one after */
export function runInContext<A extends unknown[], R>(value: unknown, fn: (...args: A) => R, self: unknown, args: A): R {
  const previous = current;
  current = value;
  try {
    return ReflectApply(fn, self, args) as R;
  } finally {
    current = previous;
  }
}
