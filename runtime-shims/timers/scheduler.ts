// `scheduler` as Workers offers it: `await scheduler.wait(ms, { signal })`, a promise form of
// setTimeout (a host timer of the request, like every timer).
import { setTimer, clearTimer } from './timers';
import { SafeTypeError, SafePromise } from '../internal/primordials';

const illegal = Symbol('illegal');

export class Scheduler {
  constructor(key?: unknown) {
    if (key !== illegal) throw new SafeTypeError('Illegal constructor');
  }
  wait(delay: number, options?: { signal?: AbortSignal }): Promise<void> {
    const signal = options?.signal;
    return new SafePromise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = () => {
        clearTimer(id);
        reject(signal!.reason);
      };
      const id = setTimer(
        () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        delay,
        false,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

export const scheduler = new Scheduler(illegal);
