// CompressionStream and DecompressionStream (Compression Standard): TransformStreams whose work
// is done by node:zlib on the host, one asynchronous host operation per chunk.
import { streams } from '../streams/polyfill';
import type { ZlibFormat } from '../../server/bridge/ops';
import { host, hostAsync } from '../internal/bridge';
import { SafeTypeError, bufferSourceBytes, isBufferSource } from '../internal/primordials';

const formats = ['gzip', 'deflate', 'deflate-raw', 'brotli'];

export function createCompressionStreams() {
  const { TransformStream } = streams();

  function transformer(format: unknown, mode: 'compress' | 'decompress', name: string) {
    const f = String(format);
    if (!formats.includes(f)) throw new SafeTypeError(`Failed to construct '${name}': Unsupported compression format: '${f}'`);
    let id: number | null = null;
    const open = () => (id ??= host('zlibOpen', f as ZlibFormat, mode));
    return new TransformStream<BufferSource, Uint8Array>({
      async transform(chunk, controller) {
        if (!isBufferSource(chunk)) throw new SafeTypeError(`${name}: chunks must be ArrayBuffer or ArrayBufferView`);
        const out = await hostAsync('zlibWrite', open(), bufferSourceBytes(chunk)).promise;
        if (out.byteLength) controller.enqueue(out);
      },
      async flush(controller) {
        const out = await hostAsync('zlibEnd', open()).promise;
        if (out.byteLength) controller.enqueue(out);
      },
      cancel() {
        if (id !== null) host('zlibClose', id);
      },
    } as Transformer<BufferSource, Uint8Array>);
  }

  class CompressionStream {
    #transform: TransformStream<BufferSource, Uint8Array>;
    constructor(format: CompressionFormat) {
      this.#transform = transformer(format, 'compress', 'CompressionStream') as unknown as TransformStream<BufferSource, Uint8Array>;
    }
    get readable() { return this.#transform.readable; }
    get writable() { return this.#transform.writable; }
  }
  class DecompressionStream {
    #transform: TransformStream<BufferSource, Uint8Array>;
    constructor(format: CompressionFormat) {
      this.#transform = transformer(format, 'decompress', 'DecompressionStream') as unknown as TransformStream<BufferSource, Uint8Array>;
    }
    get readable() { return this.#transform.readable; }
    get writable() { return this.#transform.writable; }
  }
  return { CompressionStream, DecompressionStream };
}
