// A host byte source the isolate handed back untouched (`new Response(request.body)`, a proxied
// fetch() body): the host consumer reads it directly, with no entry into the isolate per chunk.
// Both limits still hold: the source's own (a request body's size) and the consumer's.
import type { RequestRun } from '../run';
import type { HostSource } from './sources';
import type { BodyHooks } from './sinks';

/** `source`, already taken from the isolate's sources, as chunks for a host consumer of `run`, at most `limit` bytes */
export function passThrough(
  run: RequestRun,
  source: HostSource,
  limit: number,
  hooks: BodyHooks,
): AsyncIterable<Uint8Array> {
  let total = 0;
  let ended = false;
  let failure: Error | null = null;
  const end = () => {
    if (ended) return;
    ended = true;
    source.onClose?.();
    hooks.onEnd();
  };
  const stop = (error: Error) => {
    failure = error;
    try {
      source.cancel();
    } catch {
      // already closed
    }
    end();
  };
  if (run.failBody === null) run.failBody = stop;
  const iterator: AsyncIterator<Uint8Array> & AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => iterator,
    next: async () => {
      if (failure) throw failure;
      if (ended) return { done: true, value: undefined };
      let result: IteratorResult<Uint8Array>;
      try {
        result = await source.iterator.next();
      } catch (error) {
        end();
        throw error;
      }
      if (failure) throw failure;
      if (result.done) {
        end();
        return { done: true, value: undefined };
      }
      source.bytes += result.value.byteLength;
      total += result.value.byteLength;
      if (source.bytes > source.limit) {
        const [, message] = source.onLimit(source.bytes);
        stop(new TypeError(message));
        throw failure!;
      }
      if (total > limit) {
        stop(hooks.onLimit(total));
        throw failure!;
      }
      return { done: false, value: result.value };
    },
    return: async () => {
      if (!ended) stop(new Error('the consumer stopped reading'));
      return { done: true, value: undefined };
    },
  };
  return iterator;
}
