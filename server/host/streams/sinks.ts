// Isolate streams read by the host: a streamed Response body, a fetch() request body that is a
// ReadableStream. The host enters `pull` when its consumer wants the next chunk and receives it
// through the `chunk` op: one chunk per pull, so a slow client slows the producer instead of
// filling memory. A sink the host stops reading is cancelled in the isolate. The chunk the host
// holds (its size is the function's choice) is charged to the isolate's memory until the next
// pull; a chunk past the isolate's limit fails the body with a QuotaExceededError.
import { HostMemoryError, SandboxDisposedError, TenantCodeError } from '../../errors';
import { FAILED, type IsolateEntry } from '../entry';
import { refusal, type HostMemory } from '../host-memory';
import type { HostOpHandlers, RequestRun, RunResources } from '../run';

/** what the owner of a streamed body hears: its end, and a pass over its limit (returns the error reads fail with) */
export interface BodyHooks {
  onEnd(): void;
  onLimit(bytes: number): Error;
}

interface Waiter {
  resolve(chunk: Uint8Array | null): void;
  reject(error: Error): void;
}

export class IsolateSinks implements RunResources {
  readonly #entry: IsolateEntry;
  readonly #memory: HostMemory;
  /** the pull under way of each sink */
  readonly #waiters = new Map<number, Waiter>();

  constructor(entry: IsolateEntry, memory: HostMemory) {
    this.#entry = entry;
    this.#memory = memory;
  }

  readonly ops: HostOpHandlers<'chunk'> = {
    chunk: (_caller, id, done, bytes, error) => {
      const waiter = this.#waiters.get(id);
      if (!waiter) return;
      this.#waiters.delete(id);
      if (error !== null) waiter.reject(new TenantCodeError(`the body stream failed: ${error.split('\n')[0]}`, error));
      else waiter.resolve(done ? null : (bytes ?? new Uint8Array(0)));
    },
  };

  /** sink `id` of `run` as chunks the host pulls, at most `limit` bytes */
  body(run: RequestRun, id: number, limit: number, hooks: BodyHooks): AsyncIterable<Uint8Array> {
    run.sinks.add(id);
    let total = 0;
    let ended = false;
    let failure: Error | null = null;
    /** bytes of the last chunk handed over, charged until the consumer asks for the next */
    let held = 0;
    const letGo = () => {
      this.#memory.release(held);
      held = 0;
    };
    const end = () => {
      letGo();
      if (ended) return;
      ended = true;
      run.sinks.delete(id);
      hooks.onEnd();
    };
    if (run.failBody === null) {
      run.failBody = (error) => {
        failure = error;
        this.#waiters.get(id)?.reject(error);
        this.#waiters.delete(id);
      };
    }
    const iterator: AsyncIterator<Uint8Array> & AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => iterator,
      next: async () => {
        letGo();
        if (failure) throw failure;
        if (ended) return { done: true, value: undefined };
        const chunk = await new Promise<Uint8Array | null>((resolve, reject) => {
          this.#waiters.set(id, { resolve, reject });
          if (this.#entry.enter(run, 'pull', [id]) === FAILED && this.#waiters.has(id)) {
            this.#waiters.delete(id);
            reject(run.limit ?? new SandboxDisposedError());
          }
        }).catch((error: Error) => {
          end();
          throw error;
        });
        if (chunk === null) {
          end();
          return { done: true, value: undefined };
        }
        total += chunk.byteLength;
        if (total > limit) {
          failure = hooks.onLimit(total);
          this.#entry.enter(null, 'cancel', [id, 'body limit']);
          end();
          throw failure;
        }
        if (!this.#memory.tryCharge(chunk.byteLength)) {
          failure = new HostMemoryError(refusal(chunk.byteLength, 'a chunk of a streamed body'));
          this.#entry.enter(null, 'cancel', [id, failure.message]);
          end();
          throw failure;
        }
        held = chunk.byteLength;
        return { done: false, value: chunk };
      },
      return: async () => {
        if (!ended) {
          this.#entry.enter(null, 'cancel', [id, 'the consumer stopped reading']);
          end();
        }
        return { done: true, value: undefined };
      },
    };
    return iterator;
  }

  releaseRun(run: RequestRun, reason: string | null): void {
    for (const id of run.sinks) {
      this.#waiters.get(id)?.reject(run.limit ?? new Error('the request finished'));
      this.#waiters.delete(id);
      this.#entry.enter(null, 'cancel', [id, reason ?? 'the request finished']);
    }
  }

  dispose(): void {
    for (const waiter of this.#waiters.values()) waiter.reject(new SandboxDisposedError());
    this.#waiters.clear();
  }
}
