// The host half of CompressionStream/DecompressionStream: one node:zlib stream (./zlib-stream.ts)
// per isolate stream, owned by the request that opened it and closed when that request ends.
// The shim writes pieces of at most 256 KiB, one at a time per stream; each piece is a job on
// the process-wide zlib pool (./work-pool.ts), where tenants take turns and none holds more
// than its share of the slots, and its time there is charged to the request's CPU
// (./host-work.ts). The bytes held here (the piece, the output, the zlib state) are charged to
// the isolate's memory (./host-memory.ts).
import type { ZlibMode } from '../bridge/ops';
import type { Completion } from '../bridge/table';
import { HostMemoryError, HostWorkCancelledError } from '../errors';
import { refusal, type HostMemory } from './host-memory';
import type { HostWork } from './host-work';
import type { Caller, HostOpHandlers, RequestRun, RunResources } from './run';
import { zlibPool } from './work-pool';
import { zlibOptions } from './zlib-options';
import { ZlibStream } from './zlib-stream';

/** CPU a piece should take, ms per byte (deflate of data that does not compress well; inflate is faster) */
const MS_PER_BYTE = { compress: 2e-5, decompress: 5e-6 };

/** [name, message] of a failed zlib operation, as the isolate rebuilds it */
function failureParts(error: Error): [string, string] {
  if (error instanceof HostMemoryError) return ['QuotaExceededError', error.message];
  if (error instanceof HostWorkCancelledError) return ['AbortError', error.message];
  return ['TypeError', `compression failed: ${error.message}`];
}

const trailingData = 'the input goes on after the end of the compressed data';

/** The zlib streams of one sandbox, each owned by the request that opened it, behind the zlib ops. */
export class CompressionStreams implements RunResources {
  readonly #streams = new Map<number, { run: RequestRun; stream: ZlibStream; mode: ZlibMode }>();
  readonly #work: HostWork;
  readonly #memory: HostMemory;
  #next = 1;

  constructor(work: HostWork, memory: HostMemory) {
    this.#work = work;
    this.#memory = memory;
  }

  readonly ops: HostOpHandlers<'zlibOpen' | 'zlibWrite' | 'zlibEnd' | 'zlibClose'> = {
    zlibOpen: (caller, format, mode, options) => {
      if (!caller) {
        throw new TypeError(
          'compression streams (CompressionStream, node:zlib) can only be used while handling a request',
        );
      }
      const stream = new ZlibStream(format, mode, this.#memory, zlibOptions(options));
      const id = this.#next++;
      this.#streams.set(id, { run: caller, stream, mode });
      caller.zlib.add(id);
      return id;
    },
    zlibWrite: (caller, op, id, chunk) => {
      if (!(chunk instanceof Uint8Array)) {
        queueMicrotask(() => op.reject(['TypeError', 'compression: chunks must be bytes']));
        return;
      }
      // the piece stays here until its job ran: charged to the isolate meanwhile
      if (!this.#memory.tryCharge(chunk.byteLength)) {
        const message = refusal(chunk.byteLength, 'a compression stream write');
        queueMicrotask(() => op.reject(['QuotaExceededError', message]));
        this.#close(id);
        return;
      }
      const done = () => this.#memory.release(chunk.byteLength);
      const expectedMs = chunk.byteLength * MS_PER_BYTE[this.#streams.get(id)?.mode ?? 'compress'];
      this.#job(
        caller,
        op,
        id,
        (stream) => stream.write(chunk),
        expectedMs,
        done,
        (output) => {
          // data after the end of a compressed stream: the output goes first, then the stream fails
          if (output[1] !== null) this.#close(id);
        },
      );
    },
    zlibEnd: (caller, op, id) =>
      this.#job(
        caller,
        op,
        id,
        (stream) => stream.end(),
        0.1,
        () => {},
        () => this.#close(id),
      ),
    zlibClose: (_caller, id) => this.#close(id),
  };

  /** one operation of stream `id` as a pool job; `settled` runs when it is over, `succeeded` before its answer goes */
  #job<T>(
    caller: Caller,
    op: Completion<T>,
    id: number,
    work: (stream: ZlibStream) => Promise<T>,
    expectedMs: number,
    settled: () => void,
    succeeded: (result: T) => void,
  ): void {
    const entry = this.#streams.get(id);
    if (!entry) {
      settled();
      queueMicrotask(() => op.reject(['TypeError', 'the compression stream is closed']));
      return;
    }
    const job = this.#work.run(
      zlibPool,
      caller,
      (signal) => {
        // cancelled while it runs (its request ended): destroying the stream stops zlib's work
        signal.addEventListener('abort', () => this.#close(id), { once: true });
        return work(entry.stream);
      },
      expectedMs,
    );
    job.then(
      (result) => {
        settled();
        succeeded(result);
        op.resolve(result);
      },
      (error: Error) => {
        settled();
        this.#close(id);
        op.reject(failureParts(error));
      },
    );
  }

  #close(id: number): void {
    const entry = this.#streams.get(id);
    if (!entry) return;
    this.#streams.delete(id);
    entry.run.zlib.delete(id);
    entry.stream.close();
  }

  releaseRun(run: RequestRun): void {
    for (const id of [...run.zlib]) this.#close(id);
  }

  dispose(): void {
    for (const id of [...this.#streams.keys()]) this.#close(id);
  }
}
