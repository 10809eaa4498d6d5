// The isolate's end of the bridge. The host hands one function to the bootstrap; it is kept
// here, in module scope, and never put on the global object. Every call is synchronous and
// copies its arguments (structured clone): host operations that take time return an op id at
// once, and the host later enters the isolate through `completeOp` with the result.
import { DOMException } from '../events/dom-exception';
import { SafeMap, MapPrototypeGet, MapPrototypeSet, MapPrototypeDelete, SafePromise, SafeError, SafeTypeError } from './primordials';

export type HostCall = (op: string, ...args: unknown[]) => any;

let hostCall: HostCall | null = null;

export function setHost(fn: HostCall): void {
  hostCall = fn;
}

/** synchronous call into the host */
export function host(op: string, ...args: unknown[]): any {
  return hostCall!(op, ...args);
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}
const pending = new SafeMap<number, Pending>();

/** starts a host operation and returns a promise settled when the host completes it */
export function hostAsync<T>(op: string, ...args: unknown[]): { id: number; promise: Promise<T> } {
  const id: number = hostCall!(op, ...args);
  const promise = new SafePromise<T>((resolve, reject) => {
    MapPrototypeSet(pending, id, { resolve: resolve as (v: unknown) => void, reject });
  });
  return { id, promise };
}

/** host entry: an operation finished. Errors arrive as [name, message] and become real errors here. */
export function completeOp(id: number, ok: boolean, value: unknown): void {
  const entry = MapPrototypeGet(pending, id);
  if (!entry) return;
  MapPrototypeDelete(pending, id);
  if (ok) entry.resolve(value);
  else entry.reject(hostError(value));
}

/** host entry (through finish): the operation was abandoned with its request; nothing will settle it */
export function forgetOp(id: number): void {
  MapPrototypeDelete(pending, id);
}

export function hostError(value: unknown): Error {
  const [name, message] = value as [string, string];
  if (name === 'TypeError') return new SafeTypeError(message);
  if (name !== 'Error' && name.endsWith('Error')) {
    return new DOMException(message, name);
  }
  const error = new SafeError(message);
  return error;
}
