// node:timers/promises: promise forms of the platform's timers, cancellable with an AbortSignal.
function aborted(signal: AbortSignal | undefined): Error {
  return Object.assign(new Error('The operation was aborted', { cause: signal?.reason }), {
    name: 'AbortError',
    code: 'ABORT_ERR',
  });
}

export function setTimeout<T = void>(delay?: number, value?: T, options: { signal?: AbortSignal } = {}): Promise<T> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(aborted(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      globalThis.clearTimeout(id);
      reject(aborted(signal));
    };
    const id = globalThis.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(value as T);
    }, delay);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function setImmediate<T = void>(value?: T, options: { signal?: AbortSignal } = {}): Promise<T> {
  return setTimeout(0, value, options);
}

export async function* setInterval<T = void>(
  delay?: number,
  value?: T,
  options: { signal?: AbortSignal } = {},
): AsyncGenerator<T> {
  for (;;) yield await setTimeout(delay, value, options);
}

export const scheduler = {
  wait: (delay: number, options?: { signal?: AbortSignal }) => setTimeout(delay, undefined, options),
  yield: () => setImmediate(),
};

export const promises = { setTimeout, setImmediate, setInterval, scheduler };
export default promises;
