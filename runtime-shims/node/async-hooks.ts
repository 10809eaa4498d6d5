// node:async_hooks: AsyncLocalStorage and AsyncResource over the runtime's async context slot
// (runtime-shims/internal/async-context.ts, reached through islet:internal). The slot holds an
// immutable map from storage to store, so `run` and `enterWith` never disturb other storages and
// a captured context is just a reference. How far the slot follows async work is the slot's
// business: see that file.
import { internals } from 'islet:internal';

const { asyncContext } = internals();

type Frame = ReadonlyMap<AsyncLocalStorage<unknown>, unknown>;
const empty: Frame = new Map();
const current = (): Frame => (asyncContext.get() as Frame | undefined) ?? empty;

function runWith<R>(frame: Frame, fn: (...args: any[]) => R, self: unknown, args: unknown[]): R {
  const previous = asyncContext.get();
  asyncContext.set(frame);
  try {
    return Reflect.apply(fn, self, args);
  } finally {
    asyncContext.set(previous);
  }
}

export class AsyncLocalStorage<T> {
  #enabled = true;

  getStore(): T | undefined {
    if (!this.#enabled) return undefined;
    return current().get(this as AsyncLocalStorage<unknown>) as T | undefined;
  }

  run<R>(store: T, callback: (...args: any[]) => R, ...args: unknown[]): R {
    this.#enabled = true;
    const frame = new Map(current());
    frame.set(this as AsyncLocalStorage<unknown>, store);
    return runWith(frame, callback, undefined, args);
  }

  exit<R>(callback: (...args: any[]) => R, ...args: unknown[]): R {
    const frame = new Map(current());
    frame.delete(this as AsyncLocalStorage<unknown>);
    return runWith(frame, callback, undefined, args);
  }

  enterWith(store: T): void {
    this.#enabled = true;
    const frame = new Map(current());
    frame.set(this as AsyncLocalStorage<unknown>, store);
    asyncContext.set(frame);
  }

  disable(): void {
    this.#enabled = false;
  }

  /** a function that runs its argument in the context of this call to bind/snapshot */
  static snapshot(): <R>(fn: (...args: any[]) => R, ...args: unknown[]) => R {
    const frame = current();
    return (fn, ...args) => runWith(frame, fn, undefined, args);
  }

  static bind<F extends (...args: any[]) => unknown>(fn: F): F {
    const frame = current();
    return function (this: unknown, ...args: unknown[]) {
      return runWith(frame, fn, this, args);
    } as F;
  }
}

export class AsyncResource {
  #frame: Frame = current();
  readonly type: string;

  constructor(type: string, _options?: unknown) {
    if (typeof type !== 'string') throw new TypeError('The "type" argument must be of type string');
    this.type = type;
  }

  runInAsyncScope<R>(fn: (...args: any[]) => R, thisArg?: unknown, ...args: unknown[]): R {
    return runWith(this.#frame, fn, thisArg, args);
  }

  bind<F extends (...args: any[]) => unknown>(fn: F, thisArg?: unknown): F {
    const resource = this;
    return function (this: unknown, ...args: unknown[]) {
      return resource.runInAsyncScope(fn, thisArg === undefined ? this : thisArg, ...args);
    } as F;
  }

  emitDestroy(): this {
    return this;
  }

  asyncId(): number {
    return 0;
  }

  triggerAsyncId(): number {
    return 0;
  }

  static bind<F extends (...args: any[]) => unknown>(fn: F, type = 'bound-anonymous-fn', thisArg?: unknown): F {
    return new AsyncResource(type).bind(fn, thisArg);
  }
}

export function executionAsyncId(): number {
  return 0;
}
export function triggerAsyncId(): number {
  return 0;
}
export function executionAsyncResource(): object {
  return {};
}
export function createHook(): { enable(): unknown; disable(): unknown } {
  const hook = { enable: () => hook, disable: () => hook };
  return hook;
}
export const asyncWrapProviders = {};

export default {
  AsyncLocalStorage,
  AsyncResource,
  executionAsyncId,
  triggerAsyncId,
  executionAsyncResource,
  createHook,
  asyncWrapProviders,
};
