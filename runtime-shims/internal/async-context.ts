// The async context slot behind node:async_hooks' AsyncLocalStorage. Two homes:
// - V8's continuation-preserved embedder data, when the host made the context with the addon's
//   `asyncContext` option: the addon then puts a { get, set } handle on the global as
//   `__isletAsyncContext`, which `adoptNativeAsyncContext` takes (and deletes) before any tenant
//   code runs. The value set before an `await` or `.then()` is the one seen when the
//   continuation runs, however late the promise settles (timers and host completions included).
// - otherwise a variable of this module: set around synchronous code (`run`) and carried into the
//   callbacks the shims schedule themselves (timers, queueMicrotask, process.nextTick), but not
//   across `await`.
// `get`/`set` are the whole interface the built-ins use (through islet:internal).
import { ObjectGetOwnPropertyDescriptor, ReflectApply, ReflectDeleteProperty, globalObject } from './primordials';

let current: unknown;
let read: () => unknown = () => current;
let write: (value: unknown) => void = (value) => {
  current = value;
};

export interface AsyncContext {
  get(): unknown;
  set(value: unknown): void;
}

export const asyncContext: AsyncContext = {
  get: () => read(),
  set: (value: unknown) => write(value),
};

/** install-time: use the addon's handle when the host asked for one; true when it did */
export function adoptNativeAsyncContext(): boolean {
  const descriptor = ObjectGetOwnPropertyDescriptor(globalObject, '__isletAsyncContext');
  if (!descriptor) return false;
  ReflectDeleteProperty(globalObject, '__isletAsyncContext');
  const handle = descriptor.value as { get(): unknown; set(value: unknown): unknown } | undefined;
  if (!handle || typeof handle.get !== 'function' || typeof handle.set !== 'function') return false;
  const { get, set } = handle;
  read = () => ReflectApply(get, handle, []);
  write = (value) => {
    ReflectApply(set, handle, [value]);
  };
  return true;
}

/** calls `fn` with the context `value` in force, restoring the previous one after */
export function runInContext<A extends unknown[], R>(value: unknown, fn: (...args: A) => R, self: unknown, args: A): R {
  const previous = read();
  write(value);
  try {
    return ReflectApply(fn, self, args) as R;
  } finally {
    write(previous);
  }
}
