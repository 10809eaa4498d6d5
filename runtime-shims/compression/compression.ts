// CompressionStream and DecompressionStream (Compression Standard): TransformStreams whose work
// is done by node:zlib on the host, one asynchronous host operation per piece of at most 256 KiB
// of a chunk: the host never holds more than a piece of a stream's input, and a large chunk is
// many short jobs on the host's shared pool rather than one long one.
import { streams } from '../streams/polyfill';
import type { ZlibFormat } from '../../server/bridge/ops';
import { host, hostAsync } from '../internal/bridge';
import { SafeTypeError, TypedArrayPrototypeGetByteLength, TypedArrayPrototypeSubarray, bufferSourceBytes, isBufferSource } from '../internal/primordials';

const formats = ['gzip', 'deflate', 'deflate-raw', 'brotli'];
const PIECE = 256 * 1024;

export function createCompressionStreams() {
  const { TransformStream } = streams();

  function transformer(format: unknown, mode: 'compress' | 'decompress', name: string) {
    const f = String(format);
    if (!formats.includes(f)) throw new SafeTypeError(`Failed to construct '${name}': Unsupported compression format: '${f}'`);
    let id: number | null = null;
    const open = () => (id ??= host('zlibOpen', f as ZlibFormat, mode, null));
    return new TransformStream<BufferSource, Uint8Array>({
      async transform(chunk, controller) {
        if (!isBufferSource(chunk)) throw new SafeTypeError(`${name}: chunks must be ArrayBuffer or ArrayBufferView`);
        // a copy: the tenant may reuse its buffer while the pieces are on their way
        const bytes = bufferSourceBytes(chunk);
        const total = TypedArrayPrototypeGetByteLength(bytes);
        let offset = 0;
        do {
          const piece = total <= PIECE ? bytes : TypedArrayPrototypeSubarray(bytes, offset, offset + PIECE);
          const answer = await hostAsync('zlibWrite', open(), piece).promise;
          const out = answer[0];
          const failure = answer[1];
          if (TypedArrayPrototypeGetByteLength(out)) controller.enqueue(out);
          // data after the end of the compressed stream: refused once the output before it is out
          if (failure !== null) throw new SafeTypeError(`${name}: ${failure}`);
          offset += PIECE;
        } while (offset < total);
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
