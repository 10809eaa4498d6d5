// crypto.DigestStream (Workers): a WritableStream whose `digest` promise resolves with the hash
// of everything written once it is closed. Chunks are collected and hashed at close by
// crypto.subtle.digest (the host's native hashing; MD5 in the isolate), so the stream holds
// what was written until then, within the isolate's memory limit. Loaded lazily.
import { streams } from '../streams/polyfill';
import { subtle } from './subtle';
import { SafePromise, append, bufferSourceBytes, concatBytes, SafeTypeError, PromisePrototypeThen } from '../internal/primordials';

const WritableStream = (streams() as { WritableStream: typeof globalThis.WritableStream }).WritableStream;

export class DigestStream extends WritableStream<BufferSource> {
  #digest: Promise<ArrayBuffer>;
  constructor(algorithm: AlgorithmIdentifier) {
    if (arguments.length === 0) throw new SafeTypeError("Failed to construct 'DigestStream': 1 argument required, but only 0 present.");
    const chunks: Uint8Array[] = [];
    let total = 0;
    let settle!: { resolve(v: ArrayBuffer): void; reject(e: unknown): void };
    const digest = new SafePromise<ArrayBuffer>((resolve, reject) => (settle = { resolve, reject }));
    super({
      write(chunk) {
        const bytes = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : bufferSourceBytes(chunk);
        append(chunks, bytes);
        total += bytes.byteLength;
      },
      close() {
        PromisePrototypeThen(subtle.digest(algorithm, concatBytes(chunks, total) as Uint8Array<ArrayBuffer>), settle.resolve, settle.reject);
      },
      abort(reason) {
        settle.reject(reason);
      },
    });
    PromisePrototypeThen(digest, undefined, () => {}); // an aborted stream nobody asked the digest of
    this.#digest = digest;
  }
  get digest(): Promise<ArrayBuffer> {
    return this.#digest;
  }
}
