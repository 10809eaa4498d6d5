// A bound on how many host operations of one kind run at once, across every isolate of the
// process. zlib and WebCrypto both work on libuv's thread pool, which the store's file reads
// and DNS share: a tenant must not be able to fill it.

/** Returns `withSlot(work)`: runs `work` once fewer than `max` others hold a slot, in arrival order. */
export function slotLimiter(max: number): <T>(work: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async <T>(work: () => Promise<T>): Promise<T> => {
    if (running >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    try {
      return await work();
    } finally {
      // hand the slot straight to the next waiter, or give it back
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}
