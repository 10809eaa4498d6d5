// setTimeout/setInterval/clearTimeout/clearInterval and queueMicrotask. Timers live on the host
// (it owns the clock, attributes each timer to the request that set it and drops the timers of
// finished requests); the isolate keeps only the callbacks, keyed by id, until the host fires them.
import { host } from '../internal/bridge';
import {
  SafeMap,
  MapPrototypeGet,
  MapPrototypeSet,
  MapPrototypeDelete,
  MapPrototypeHas,
  SafeTypeError,
  MathMax,
  NumberIsFinite,
  PromisePrototypeThen,
  PromiseResolve,
} from '../internal/primordials';
import { reportError } from '../internal/report';
import { asyncContext, runInContext } from '../internal/async-context';

interface Timer {
  fn: (...args: unknown[]) => unknown;
  args: unknown[];
  repeat: boolean;
  /** the async context the timer was set in (AsyncLocalStorage stores), in force when it fires */
  context: unknown;
}
const timers = new SafeMap<number, Timer>();
let nextId = 1;

export function setTimer(fn: (...args: unknown[]) => unknown, delay: unknown, repeat: boolean, args: unknown[] = []): number {
  if (typeof fn !== 'function') throw new SafeTypeError('The callback of a timer must be a function (strings are not evaluated)');
  let ms = Number(delay);
  if (!NumberIsFinite(ms)) ms = 0;
  ms = MathMax(0, ms);
  const id = nextId++;
  host('timer', id, ms, repeat); // throws outside a request: then nothing is kept here
  MapPrototypeSet(timers, id, { fn, args, repeat, context: asyncContext.get() });
  return id;
}

export function clearTimer(id: unknown): void {
  const key = Number(id);
  if (!MapPrototypeHas(timers, key)) return;
  MapPrototypeDelete(timers, key);
  host('clearTimer', key);
}

/** host entry: timer `id` is due */
export function fireTimer(id: number): void {
  const timer = MapPrototypeGet(timers, id);
  if (!timer) return;
  if (!timer.repeat) MapPrototypeDelete(timers, id);
  try {
    runInContext(timer.context, timer.fn, globalThis, timer.args);
  } catch (error) {
    reportError(error);
  }
}

/** host entry: the host dropped these timers (their request finished) */
export function forgetTimer(id: number): void {
  MapPrototypeDelete(timers, id);
}

/** HTML's timeout is a WebIDL long: NaN and infinities are 0, then modulo 2^32 as a signed 32-bit
 *  integer (2^32 ms is 0, not 49 days); setTimer makes a negative delay 0 */
function long(delay: unknown): number {
  const ms = Number(delay);
  return NumberIsFinite(ms) ? ms | 0 : 0;
}

export function setTimeout(fn: (...args: unknown[]) => unknown, delay?: number, ...args: unknown[]): number {
  return setTimer(fn, long(delay), false, args);
}
export function setInterval(fn: (...args: unknown[]) => unknown, delay?: number, ...args: unknown[]): number {
  return setTimer(fn, long(delay), true, args);
}
export function clearTimeout(id?: number): void {
  clearTimer(id);
}
export function clearInterval(id?: number): void {
  clearTimer(id);
}

export function queueMicrotask(fn: () => void): void {
  if (typeof fn !== 'function') throw new SafeTypeError("Failed to execute 'queueMicrotask': parameter 1 is not of type 'Function'.");
  const context = asyncContext.get();
  PromisePrototypeThen(PromiseResolve(undefined), () => {
    try {
      runInContext(context, fn, undefined, []);
    } catch (error) {
      reportError(error);
    }
  });
}
