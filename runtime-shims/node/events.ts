// node:events: the `events` package (browserify's port of Node's EventEmitter), plus the few
// helpers newer Node added that code for Workers uses (`on`, getEventListeners, addAbortListener).
import EventEmitter from 'events';

const E = EventEmitter as any;

/** async iterator over `emitter`'s `event` (Node's events.on), ended by an 'error' event or the signal */
export function on(
  emitter: any,
  event: string | symbol,
  options: { signal?: AbortSignal } = {},
): AsyncIterableIterator<unknown[]> {
  const queue: unknown[][] = [];
  const waiting: { resolve(v: IteratorResult<unknown[]>): void; reject(e: unknown): void }[] = [];
  let failure: unknown = null;
  let done = false;
  const onEvent = (...args: unknown[]) => {
    const next = waiting.shift();
    if (next) next.resolve({ value: args, done: false });
    else queue.push(args);
  };
  const onError = (error: unknown) => {
    done = true;
    const next = waiting.shift();
    if (next) next.reject(error);
    else failure = error;
    stop();
  };
  const stop = () => {
    emitter.removeListener(event, onEvent);
    if (event !== 'error') emitter.removeListener('error', onError);
    for (const w of waiting.splice(0)) w.resolve({ value: undefined, done: true });
  };
  emitter.on(event, onEvent);
  if (event !== 'error') emitter.on('error', onError);
  options.signal?.addEventListener('abort', () => onError(options.signal!.reason), { once: true });
  return {
    next() {
      if (queue.length) return Promise.resolve({ value: queue.shift()!, done: false });
      if (failure !== null) {
        const error = failure;
        failure = null;
        return Promise.reject(error);
      }
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    return() {
      done = true;
      stop();
      return Promise.resolve({ value: undefined, done: true });
    },
    throw(error: unknown) {
      onError(error);
      return Promise.reject(error);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

export function getEventListeners(target: any, name: string | symbol): ((...args: unknown[]) => unknown)[] {
  if (typeof target.listeners === 'function') return target.listeners(name);
  return [];
}

export function addAbortListener(signal: AbortSignal, listener: (event: Event) => void): object {
  signal.addEventListener('abort', listener, { once: true });
  const dispose = (Symbol as { dispose?: symbol }).dispose ?? Symbol.for('nodejs.dispose');
  return { [dispose]: () => signal.removeEventListener('abort', listener) };
}

export function setMaxListeners(n: number, ...targets: any[]): void {
  if (targets.length === 0) E.defaultMaxListeners = n;
  for (const target of targets) if (typeof target.setMaxListeners === 'function') target.setMaxListeners(n);
}

export const errorMonitor: symbol = E.errorMonitor ?? Symbol('events.errorMonitor');
export const captureRejectionSymbol: symbol = Symbol.for('nodejs.rejection');
E.on ??= on;
E.getEventListeners ??= getEventListeners;
E.addAbortListener ??= addAbortListener;
E.setMaxListeners ??= setMaxListeners;
E.errorMonitor ??= errorMonitor;
E.captureRejectionSymbol ??= captureRejectionSymbol;

export { EventEmitter };
export const once: (emitter: unknown, name: string | symbol) => Promise<unknown[]> = E.once;
export const listenerCount: (emitter: unknown, name: string | symbol) => number = E.listenerCount;
export const defaultMaxListeners: number = E.defaultMaxListeners;
export default EventEmitter;
