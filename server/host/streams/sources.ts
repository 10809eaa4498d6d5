// Host byte sources read by the isolate: an incoming request body, a fetch() response body. The
// isolate holds a source's id and reads it one chunk per `read` op, so nothing crosses before
// the function asks for it and the host's own stream keeps its backpressure. Each source has a
// byte limit; passing it fails the read with the error the source's owner chose.
import { exactBytes } from '../bytes';
import type { Completion } from '../../bridge/table';
import type { ErrorParts } from '../../bridge/ops';
import type { HostOpHandlers, RequestRun, RunResources } from '../run';

export interface HostSource {
  run: RequestRun | null;
  iterator: AsyncIterator<Uint8Array>;
  limit: number;
  bytes: number;
  /** called once when the source passes its limit; returns the error the read fails with */
  onLimit(bytes: number): ErrorParts;
  cancel(): void;
  /** called once when the source ends, fails or is dropped */
  onClose?(): void;
}

export interface SourceOptions {
  limit: number;
  onLimit(bytes: number): ErrorParts;
  /** how to stop the source early (default: return() on its iterator) */
  cancel?(): void;
  onClose?(): void;
}

export class HostSources implements RunResources {
  readonly #sources = new Map<number, HostSource>();
  #next = 1;

  readonly ops: HostOpHandlers<'read' | 'cancelSource'> = {
    read: (_caller, op, id) => this.#read(op, id),
    cancelSource: (_caller, id) => this.drop(id),
  };

  /** registers a source owned by `run` (null: the sandbox's own); returns the id the isolate reads it by */
  add(run: RequestRun | null, iterator: AsyncIterator<Uint8Array>, options: SourceOptions): number {
    const id = this.#next++;
    this.#sources.set(id, {
      run,
      iterator,
      limit: options.limit,
      bytes: 0,
      onLimit: options.onLimit,
      cancel: options.cancel ?? (() => void iterator.return?.().catch(() => {})),
      onClose: options.onClose,
    });
    run?.sources.add(id);
    return id;
  }

  /** hands a source over to a host consumer (a pass-through): it is no longer the isolate's to read */
  take(id: number): HostSource | null {
    const source = this.#sources.get(id);
    if (!source) return null;
    this.#sources.delete(id);
    source.run?.sources.delete(id);
    return source;
  }

  /** closes a source nobody will read */
  drop(id: number): void {
    const source = this.take(id);
    if (!source) return;
    source.onClose?.();
    try {
      source.cancel();
    } catch {
      // already closed
    }
  }

  #ended(id: number, source: HostSource): void {
    this.#sources.delete(id);
    source.run?.sources.delete(id);
    source.onClose?.();
  }

  #read(op: Completion<Uint8Array | null>, id: number): void {
    const source = this.#sources.get(id);
    if (!source) {
      queueMicrotask(() => op.reject(['TypeError', 'the body stream is closed']));
      return;
    }
    source.iterator.next().then(
      (result) => {
        if (!this.#sources.has(id)) return op.reject(['TypeError', 'the body stream was cancelled']);
        if (result.done) {
          this.#ended(id, source);
          return op.resolve(null);
        }
        const chunk = result.value;
        source.bytes += chunk.byteLength;
        if (source.bytes > source.limit) {
          const failure = source.onLimit(source.bytes);
          this.drop(id);
          return op.reject(failure);
        }
        op.resolve(exactBytes(chunk));
      },
      (error: Error) => {
        this.#ended(id, source);
        const aborted = error?.name === 'AbortError' || error?.name === 'TimeoutError';
        if (aborted) op.reject([error.name, error.message]);
        else op.reject(['TypeError', `reading the body failed: ${error?.message ?? error}`]);
      },
    );
  }

  releaseRun(run: RequestRun): void {
    for (const id of [...run.sources]) this.drop(id);
  }

  dispose(): void {
    for (const id of [...this.#sources.keys()]) this.drop(id);
  }
}
