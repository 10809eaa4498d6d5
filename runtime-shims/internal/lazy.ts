// Lazily evaluated parts of the bootstrap. A global such as ReadableStream is first an accessor;
// on first use it evaluates its module (esbuild turns `require` of a bundled module into a
// deferred initialiser), then replaces itself with a plain writable value. A context that never
// touches streams never pays for them.
//
// Lazy modules may run after tenant code tampered with built-ins, and some capture built-ins
// when they initialise (the streams polyfill keeps Promise.prototype.then). So they initialise
// with the pristine built-ins put back for the duration, and the tenant's versions restored after.
import { ObjectDefineProperty, ObjectGetOwnPropertyDescriptor } from './primordials';

const pristine: [object, PropertyKey, PropertyDescriptor][] = [];
function keep(target: object, key: PropertyKey): void {
  const desc = ObjectGetOwnPropertyDescriptor(target, key);
  if (desc) pristine[pristine.length] = [target, key, desc];
}
for (const key of ['then', 'catch', 'finally'] as const) keep(Promise.prototype, key);
for (const key of ['resolve', 'reject', 'all'] as const) keep(Promise, key);
for (const key of ['push', 'pop', 'shift', 'slice', 'splice', 'map', 'forEach', 'indexOf'] as const)
  keep(Array.prototype, key);
for (const key of [
  'defineProperty',
  'defineProperties',
  'create',
  'getPrototypeOf',
  'setPrototypeOf',
  'assign',
  'keys',
] as const)
  keep(Object, key);
for (const key of ['call', 'apply', 'bind'] as const) keep(Function.prototype, key);
for (const key of [
  'Promise',
  'Object',
  'Array',
  'Symbol',
  'TypeError',
  'RangeError',
  'Error',
  'Uint8Array',
  'ArrayBuffer',
  'DataView',
  'Number',
  'Math',
  'JSON',
  'Map',
  'Set',
  'WeakMap',
  'Reflect',
] as const)
  keep(globalThis, key);

export function withPristineBuiltins<T>(fn: () => T): T {
  const saved: (PropertyDescriptor | undefined)[] = [];
  for (let i = 0; i < pristine.length; i++) {
    const [target, key, desc] = pristine[i];
    saved[i] = ObjectGetOwnPropertyDescriptor(target, key);
    try {
      ObjectDefineProperty(target, key, desc);
    } catch {
      // a tenant froze it: nothing we can restore, the module sees the tenant's version
    }
  }
  try {
    return fn();
  } finally {
    for (let i = 0; i < pristine.length; i++) {
      const [target, key] = pristine[i];
      const desc = saved[i];
      try {
        if (desc) ObjectDefineProperty(target, key, desc);
      } catch {
        // as above
      }
    }
  }
}

/** defines `name` on `target` as a lazy value computed by `load` on first access */
export function defineLazy(target: object, name: string, load: () => unknown): void {
  ObjectDefineProperty(target, name, {
    configurable: true,
    enumerable: false,
    get() {
      const value = withPristineBuiltins(load);
      ObjectDefineProperty(target, name, { value, writable: true, configurable: true, enumerable: false });
      return value;
    },
    set(value: unknown) {
      ObjectDefineProperty(target, name, { value, writable: true, configurable: true, enumerable: false });
    },
  });
}

/** memoised loader for a lazy module */
export function lazy<T>(load: () => T): () => T {
  let value: T | undefined;
  let loaded = false;
  return () => {
    if (!loaded) {
      value = withPristineBuiltins(load);
      loaded = true;
    }
    return value!;
  };
}
