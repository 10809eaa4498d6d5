// One node:zlib stream behind an isolate's CompressionStream or DecompressionStream, written one
// piece per operation; each operation answers with the output produced so far. What it holds on
// the host is charged to the isolate (./host-memory.ts): its zlib state from its first operation
// (made then, so that a refusal reaches the isolate as the failure of that operation), and its
// output in 256 KiB steps as it grows, until the output is handed over.
//
// The Compression standard's rules for the end of a compressed stream, which node:zlib does not
// keep by itself: input after the end of the compressed data (trailing bytes, a second stream)
// fails the stream with a TypeError once the output before it was delivered; input that stops
// before the end fails the stream when it is closed. node:zlib stops reading at the end of a
// deflate stream and leaves the rest of the input unread: when a write's callback comes with
// fewer bytes read than written, the data ended inside that write. (A gzip stream followed by a
// second complete gzip member is the one case node:zlib 20 reads on, as gunzip(1) does.)
//
// Every operation settles, whatever happens to the stream: a stream closed or failed under an
// operation fails it (a write callback node:zlib never calls must not hold a pool slot forever).
import zlib from 'node:zlib';
import type { ZlibFormat, ZlibMode, ZlibOutput } from '../bridge/ops';
import { HostMemoryError } from '../errors';
import { exactBytes } from './bytes';
import { refusal, type HostMemory } from './host-memory';
import type { zlibOptions } from './zlib-options';

type Options = ReturnType<typeof zlibOptions>;

// Decompression multiplies bytes: 130 KB of gzip can inflate to 100 MB from one written piece,
// all of it held here before the isolate gets it (found by the hostile suite: a 96 MiB bomb
// raised the server's RSS by ~390 MB). So the output of one operation is capped; a stream that
// inflates past the cap fails with a TypeError that says so.
const MAX_OUTPUT = 16 * 1024 * 1024;
/** output is charged to the isolate in steps of this many bytes */
const OUTPUT_STEP = 256 * 1024;
/** what a zlib stream's own state holds (deflate: window and hash tables; inflate: window), with its output buffer */
const STATE_BYTES: Record<ZlibMode, number> = { compress: 300 * 1024, decompress: 64 * 1024 };

const junk = 'the compressed data ended before the input did: data after the end of a compressed stream';

type NodeZlib =
  | zlib.Gzip
  | zlib.Gunzip
  | zlib.Deflate
  | zlib.Inflate
  | zlib.DeflateRaw
  | zlib.InflateRaw
  | zlib.BrotliCompress
  | zlib.BrotliDecompress;

/** the node:zlib stream of `format` and `mode`, with checked options (./zlib-options.ts) */
function create(format: ZlibFormat, mode: ZlibMode, options: Options): NodeZlib {
  if (format === 'brotli') {
    return mode === 'compress' ? zlib.createBrotliCompress(options) : zlib.createBrotliDecompress(options);
  }
  // unzip: node:zlib's inflate of gzip or deflate, whichever the header says (decompression only)
  if (format === 'unzip') return zlib.createUnzip(options);
  if (mode === 'compress')
    return format === 'gzip'
      ? zlib.createGzip(options)
      : format === 'deflate'
        ? zlib.createDeflate(options)
        : zlib.createDeflateRaw(options);
  return format === 'gzip'
    ? zlib.createGunzip(options)
    : format === 'deflate'
      ? zlib.createInflate(options)
      : zlib.createInflateRaw(options);
}

/** the formats a stream may have */
export function isZlibFormat(format: unknown): format is ZlibFormat {
  return (
    format === 'gzip' || format === 'deflate' || format === 'deflate-raw' || format === 'brotli' || format === 'unzip'
  );
}

export class ZlibStream {
  #stream: NodeZlib | null = null;
  readonly #format: ZlibFormat;
  readonly #mode: ZlibMode;
  readonly #memory: HostMemory;
  readonly #options: Options;
  #out: Buffer[] = [];
  /** bytes in #out, and how many of them are charged */
  #outBytes = 0;
  #outCharged = 0;
  /** bytes written to the engine */
  #fed = 0;
  #failure: Error | null = null;
  #ended = false;
  #closed = false;
  /** how to fail the operation under way */
  #pending: ((error: Error) => void) | null = null;

  /** `memory`: where its host bytes are charged; `options`: node:zlib's, checked (./zlib-options.ts) */
  constructor(format: unknown, mode: unknown, memory: HostMemory, options: Options = {}) {
    if (!isZlibFormat(format)) throw new TypeError(`unsupported compression format ${String(format)}`);
    if (mode !== 'compress' && mode !== 'decompress') throw new TypeError(`unknown compression mode ${String(mode)}`);
    if (format === 'unzip' && mode !== 'decompress') throw new TypeError('unzip only decompresses');
    this.#memory = memory;
    this.#options = options;
    this.#format = format;
    this.#mode = mode;
  }

  /** the node:zlib stream, made (and its state charged) on first use; throws HostMemoryError */
  #open(): NodeZlib {
    if (this.#stream) return this.#stream;
    if (this.#closed) throw new Error('the stream was closed');
    this.#memory.charge(
      STATE_BYTES[this.#mode],
      this.#mode === 'compress' ? 'CompressionStream' : 'DecompressionStream',
    );
    const stream = create(this.#format, this.#mode, this.#options);
    stream.on('data', (chunk: Buffer) => this.#output(chunk));
    stream.on('end', () => {
      this.#ended = true;
    });
    stream.on('error', (error) => this.#fail(error));
    stream.on('close', () => this.#fail(new Error('the stream was closed')));
    this.#stream = stream;
    return stream;
  }

  #output(chunk: Buffer): void {
    this.#outBytes += chunk.length;
    if (this.#outBytes > MAX_OUTPUT) {
      this.#stream?.destroy(
        new RangeError(`one chunk produced more than ${MAX_OUTPUT} bytes of output; write smaller chunks`),
      );
      return;
    }
    while (this.#outCharged < this.#outBytes) {
      if (!this.#memory.tryCharge(OUTPUT_STEP)) {
        const message = refusal(OUTPUT_STEP, 'the output of a compression stream');
        this.#stream?.destroy(new HostMemoryError(message));
        return;
      }
      this.#outCharged += OUTPUT_STEP;
    }
    this.#out.push(chunk);
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    const pending = this.#pending;
    this.#pending = null;
    pending?.(this.#failure);
  }

  /** the output so far, handed over (and no longer charged) */
  #take(): Uint8Array {
    const out = this.#out.length === 1 ? this.#out[0] : Buffer.concat(this.#out);
    this.#out = [];
    this.#outBytes = 0;
    this.#memory.release(this.#outCharged);
    this.#outCharged = 0;
    return exactBytes(out);
  }

  /** one operation at a time; settled by `run` or by the stream's failure, whichever comes first */
  #operate<T>(run: (stream: NodeZlib, resolve: (value: T) => void) => void): Promise<T> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#pending) return Promise.reject(new Error('one operation at a time'));
    let stream: NodeZlib;
    try {
      stream = this.#open();
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<T>((resolve, reject) => {
      this.#pending = reject;
      run(stream, (value) => {
        if (this.#pending !== reject) return; // failed meanwhile
        this.#pending = null;
        resolve(value);
      });
    });
  }

  /** writes one piece; answers with the output so far and, after data past the end, the failure to report */
  write(chunk: Uint8Array): Promise<ZlibOutput> {
    if (this.#mode === 'decompress' && this.#ended && chunk.byteLength > 0) {
      return Promise.resolve([new Uint8Array(0), junk]);
    }
    return this.#operate((stream, resolve) => {
      this.#fed += chunk.byteLength;
      stream.write(chunk, (error) => {
        // destroyed under the write (output past its cap, memory refused, closed): that is the answer
        if (error || stream.destroyed) return this.#fail(error ?? stream.errored ?? new Error('the stream was closed'));
        const refused = this.#mode === 'decompress' && stream.bytesWritten < this.#fed;
        if (refused) this.#ended = true;
        resolve([this.#take(), refused ? junk : null]);
      });
    });
  }

  /** ends the input; answers with the rest of the output (a decompression cut short fails) */
  end(): Promise<Uint8Array> {
    return this.#operate((stream, resolve) => {
      const done = () => resolve(this.#take());
      if (this.#ended || stream.readableEnded) return done();
      stream.once('end', done);
      stream.end();
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#stream) {
      this.#stream.destroy();
      this.#memory.release(this.#outCharged + STATE_BYTES[this.#mode]);
    }
    this.#outCharged = 0;
    this.#out = [];
  }
}
