// The isolate's end of the bridge. The host hands one function to the bootstrap; it is kept
// here, in module scope, and never put on the global object. Every call is synchronous and
// copies its arguments (structured clone). The operations and their types are declared once in
// server/bridge/ops.ts (imported for its types only: nothing of it enters the bundle): `host()`
// calls an op answered within the call; `hostAsync()` one that returns an op id at once and is
// completed later, when the host enters the isolate through `completeOp` with the result.
import type { LaterOpName, NowOpName, OpArgs, OpResult, ErrorParts } from '../../server/bridge/ops';
import { DOMException } from '../events/dom-exception';
import { SafeMap, MapPrototypeGet, MapPrototypeSet, MapPrototypeDelete, SafePromise, SafeError, SafeTypeError } from './primordials';

export type HostCall = (op: string, ...args: unknown[]) => unknown;

let hostCall: HostCall | null = null;

export function setHost(fn: HostCall): void {
  hostCall = fn;
}

/** synchronous call into the host: an op answered within the call */
export function host<N extends NowOpName>(op: N, ...args: OpArgs<N>): OpResult<N> {
  return hostCall!(op, ...args) as OpResult<N>;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}
const pending = new SafeMap<number, Pending>();

/** starts a host operation that completes later; returns its op id and a promise of its result */
export function hostAsync<N extends LaterOpName>(op: N, ...args: OpArgs<N>): { id: number; promise: Promise<OpResult<N>> } {
  const id = hostCall!(op, ...args) as number;
  const promise = new SafePromise<OpResult<N>>((resolve, reject) => {
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
  const [name, message] = value as ErrorParts;
  if (name === 'TypeError') return new SafeTypeError(message);
  if (name !== 'Error' && name.endsWith('Error')) {
    return new DOMException(message, name);
  }
  const error = new SafeError(message);
  return error;
}
