// The host half of CompressionStream/DecompressionStream: node:zlib streams, one per isolate
// stream, written one chunk per operation; each operation answers with the output produced so far.
// A stream belongs to the request that opened it and is closed when that request ends.
import zlib from 'node:zlib';
import type { Completion } from '../bridge/table';
import { exactBytes } from './bytes';
import type { HostOpHandlers, RequestRun, RunResources } from './run';
import { slotLimiter } from './slots';

type Format = 'gzip' | 'deflate' | 'deflate-raw' | 'brotli';

// Decompression multiplies bytes: 130 KB of gzip can inflate to 100 MB from one written chunk,
// all of it held here before the isolate gets it (found by the hostile suite: a 96 MiB bomb
// raised the server's RSS by ~390 MB). So the output of one operation is capped, and at most
// MAX_RUNNING operations of all isolates run at once (zlib works on libuv's thread pool, shared
// with the store's file reads and DNS): whatever tenants do, zlib holds at most about
// MAX_RUNNING x MAX_OUTPUT bytes here. A stream that inflates past the cap fails with a TypeError
// that says so; writing smaller chunks keeps each operation under it.
const MAX_OUTPUT = 16 * 1024 * 1024;
const MAX_RUNNING = 2;

const withSlot = slotLimiter(MAX_RUNNING);

type Codec =
  | zlib.Gzip
  | zlib.Gunzip
  | zlib.Deflate
  | zlib.Inflate
  | zlib.DeflateRaw
  | zlib.InflateRaw
  | zlib.BrotliCompress
  | zlib.BrotliDecompress;

const codecs: Record<Format, Record<'compress' | 'decompress', () => Codec>> = {
  gzip: { compress: () => zlib.createGzip(), decompress: () => zlib.createGunzip() },
  deflate: { compress: () => zlib.createDeflate(), decompress: () => zlib.createInflate() },
  'deflate-raw': { compress: () => zlib.createDeflateRaw(), decompress: () => zlib.createInflateRaw() },
  brotli: { compress: () => zlib.createBrotliCompress(), decompress: () => zlib.createBrotliDecompress() },
};

function create(format: Format, mode: 'compress' | 'decompress'): Codec {
  return codecs[format][mode]();
}

export class ZlibStream {
  #stream: ReturnType<typeof create>;
  #out: Buffer[] = [];
  /** bytes in #out (output of the operation under way) */
  #outBytes = 0;
  #error: Error | null = null;
  /** bytes given to a decompressor; zlib's bytesWritten says how many it consumed */
  #bytesIn = 0;
  /** the decompressor met the end of the compressed data (zlib ends the stream by itself then) */
  #ended = false;

  constructor(format: unknown, mode: unknown) {
    if (typeof format !== 'string' || !Object.hasOwn(codecs, format))
      throw new TypeError(`unsupported compression format ${String(format)}`);
    if (mode !== 'compress' && mode !== 'decompress') throw new TypeError(`unknown compression mode ${String(mode)}`);
    this.#stream = create(format as Format, mode);
    this.#stream.on('end', () => {
      this.#ended = true;
    });
    this.#stream.on('data', (chunk: Buffer) => {
      this.#outBytes += chunk.length;
      if (this.#outBytes > MAX_OUTPUT) {
        this.#out = [];
        this.#stream.destroy(
          new RangeError(`one chunk produced more than ${MAX_OUTPUT} bytes of output; write smaller chunks`),
        );
        return;
      }
      this.#out.push(chunk);
    });
    this.#stream.on('error', (error) => {
      // a failed zlib stream does not always call the pending write's callback: fail them here
      this.#error = error;
      const pending = this.#pending;
      this.#pending = new Set();
      for (const reject of pending) reject(new TypeError(`compression failed: ${error.message}`));
    });
  }
  #pending = new Set<(error: Error) => void>();

  #take(): Uint8Array {
    const out = this.#out.length === 1 ? this.#out[0] : Buffer.concat(this.#out);
    this.#out = [];
    this.#outBytes = 0;
    return exactBytes(out);
  }

  write(chunk: unknown): Promise<Uint8Array> {
    if (!(chunk instanceof Uint8Array)) return Promise.reject(new TypeError('compression: chunks must be bytes'));
    return withSlot(() => this.#write(chunk));
  }

  #write(chunk: Uint8Array): Promise<Uint8Array> {
    if (this.#error) return Promise.reject(new TypeError(`compression failed: ${this.#error.message}`));
    if (this.#ended && chunk.length > 0) return Promise.reject(this.#fail(trailingData));
    this.#bytesIn += chunk.length;
    return new Promise((resolve, reject) => {
      this.#pending.add(reject);
      this.#stream.write(chunk, (error) => {
        if (!this.#pending.delete(reject)) return; // already failed through 'error'
        const failure = error ?? this.#error;
        if (failure) reject(new TypeError(`compression failed: ${failure.message}`));
        // Compression Standard: input after the end of the compressed data is an error (zlib
        // would stop reading there and drop the rest without a word)
        else if (this.#ended && this.#stream.bytesWritten < this.#bytesIn) reject(this.#fail(trailingData));
        else resolve(this.#take());
      });
    });
  }

  #fail(message: string): TypeError {
    this.#error ??= new Error(message);
    return new TypeError(`compression failed: ${message}`);
  }

  end(): Promise<Uint8Array> {
    return withSlot(() => this.#end());
  }

  #end(): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      if (this.#error) return reject(new TypeError(`compression failed: ${this.#error.message}`));
      const finish = () => {
        if (this.#stream.bytesWritten < this.#bytesIn) reject(this.#fail(trailingData));
        else resolve(this.#take());
      };
      // a decompressor that met the end of its data has already ended: 'end' will not come again
      if (this.#ended) return finish();
      this.#pending.add(reject);
      this.#stream.once('end', () => {
        if (this.#pending.delete(reject)) finish();
      });
      this.#stream.end();
      this.#stream.resume();
    });
  }

  /** destroys the stream; an operation still waiting on it fails (it must not hold a work slot) */
  close(): void {
    const pending = this.#pending;
    this.#pending = new Set();
    this.#stream.destroy();
    for (const reject of pending) reject(new TypeError('compression failed: the stream was closed'));
  }
}

const trailingData = 'the input goes on after the end of the compressed data';

/** The zlib streams of one sandbox, each owned by the request that opened it, behind the zlib ops. */
export class CompressionStreams implements RunResources {
  readonly #streams = new Map<number, { run: RequestRun; stream: ZlibStream }>();
  #next = 1;

  readonly ops: HostOpHandlers<'zlibOpen' | 'zlibWrite' | 'zlibEnd' | 'zlibClose'> = {
    zlibOpen: (caller, format, mode) => {
      if (!caller) {
        throw new TypeError('CompressionStream/DecompressionStream can only be used while handling a request');
      }
      const id = this.#next++;
      this.#streams.set(id, { run: caller, stream: new ZlibStream(format, mode) });
      caller.zlib.add(id);
      return id;
    },
    zlibWrite: (_caller, op, id, chunk) => this.#work(op, id, (stream) => stream.write(chunk), false),
    zlibEnd: (_caller, op, id) => this.#work(op, id, (stream) => stream.end(), true),
    zlibClose: (_caller, id) => this.#close(id),
  };

  /** one write or the end of stream `id`; `last`: the stream is closed once it succeeds */
  #work(op: Completion<Uint8Array>, id: number, work: (s: ZlibStream) => Promise<Uint8Array>, last: boolean): void {
    const entry = this.#streams.get(id);
    if (!entry) {
      queueMicrotask(() => op.reject(['TypeError', 'the compression stream is closed']));
      return;
    }
    work(entry.stream).then(
      (out) => {
        if (last) this.#close(id);
        op.resolve(out);
      },
      (error: Error) => {
        this.#close(id);
        op.reject(['TypeError', error.message]);
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
