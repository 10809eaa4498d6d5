// Unhandled promise rejections (HTML's "notify about rejected promises", as Workers has it): the
// addon's `promiseRejections` context option tells this file, through the hidden global
// `__isletPromiseRejections`, when a promise is rejected with no handler and when such a promise
// gets one later. After the entry in which that happened (its microtasks included, so a handler
// added a moment later still counts), the host calls the `rejections` entry: each promise still
// unhandled fires a cancelable `unhandledrejection` PromiseRejectionEvent at the global scope,
// and unless a listener called preventDefault() it goes to the tenant's log with its stack
// ("Uncaught (in promise) ..."). A reported promise that gets a handler afterwards fires
// `rejectionhandled`. Without the addon's hook (the reference library) nothing is reported.
import { host } from './bridge';
import { describeError } from './report';
import {
  MapPrototypeDelete,
  MapPrototypeSet,
  ObjectGetOwnPropertyDescriptor,
  ReflectApply,
  ReflectDeleteProperty,
  SafeMap,
  SafeWeakMap,
  WeakMapPrototypeGet,
  WeakMapPrototypeSet,
  globalObject,
} from './primordials';

type Target = { dispatchEvent(event: never): boolean };
type EventClass = new (
  type: string,
  init: { promise: Promise<unknown>; reason?: unknown; cancelable?: boolean },
) => Event;

/** rejected with no handler, not yet notified (a Map keeps their order) */
let pending = new SafeMap<Promise<unknown>, unknown>();
/** notified, and given a handler since: their `rejectionhandled` is due */
let handledLater = new SafeMap<Promise<unknown>, unknown>();
/** notified and still without a handler, with their reasons */
const notified = new SafeWeakMap<Promise<unknown>, { reason: unknown }>();
let asked = false;

function changed(kind: number, promise: Promise<unknown>, reason: unknown): void {
  if (kind === 0) MapPrototypeSet(pending, promise, reason);
  else if (!MapPrototypeDelete(pending, promise)) {
    const entry = WeakMapPrototypeGet(notified, promise);
    if (entry === undefined) return;
    MapPrototypeSet(handledLater, promise, entry.reason);
  }
  // one host call per entry that has something to notify
  if (!asked) {
    asked = true;
    host('rejectionsPending');
  }
}

/** install-time: takes the addon's hook (and deletes its global); true when there was one */
export function adoptPromiseRejections(): boolean {
  const descriptor = ObjectGetOwnPropertyDescriptor(globalObject, '__isletPromiseRejections');
  if (!descriptor) return false;
  ReflectDeleteProperty(globalObject, '__isletPromiseRejections');
  if (typeof descriptor.value !== 'function') return false;
  ReflectApply(descriptor.value, undefined, [changed]);
  return true;
}

/**
 * host entry `rejections`: fires the events due at `target` (the global scope). `listening` says
 * whether `target` has listeners of a type (the event class loads only when some do).
 */
export function notifyRejections(target: Target, listening: (type: string) => boolean, Events: () => EventClass): void {
  asked = false;
  const unhandled = pending;
  const handled = handledLater;
  pending = new SafeMap();
  handledLater = new SafeMap();
  for (const [promise, reason] of unhandled) {
    let cancelled = false;
    if (listening('unhandledrejection')) {
      const event = new (Events())('unhandledrejection', { promise, reason, cancelable: true });
      cancelled = !target.dispatchEvent(event as never);
    }
    if (!cancelled) host('log', 'error', `Uncaught (in promise) ${describeError(reason)}`);
    WeakMapPrototypeSet(notified, promise, { reason });
  }
  for (const [promise, reason] of handled) {
    if (listening('rejectionhandled'))
      target.dispatchEvent(new (Events())('rejectionhandled', { promise, reason }) as never);
  }
}
