// The host half of CompressionStream/DecompressionStream: node:zlib streams, one per isolate
// stream, written one chunk per operation; each operation answers with the output produced so far.
import zlib from 'node:zlib';
import { exactBytes } from './bytes';

type Format = 'gzip' | 'deflate' | 'deflate-raw';

function create(format: Format, mode: 'compress' | 'decompress'): zlib.Gzip | zlib.Gunzip | zlib.Deflate | zlib.Inflate | zlib.DeflateRaw | zlib.InflateRaw {
  if (mode === 'compress') return format === 'gzip' ? zlib.createGzip() : format === 'deflate' ? zlib.createDeflate() : zlib.createDeflateRaw();
  return format === 'gzip' ? zlib.createGunzip() : format === 'deflate' ? zlib.createInflate() : zlib.createInflateRaw();
}

export class ZlibStream {
  #stream: ReturnType<typeof create>;
  #out: Buffer[] = [];
  #error: Error | null = null;

  constructor(format: unknown, mode: unknown) {
    if (format !== 'gzip' && format !== 'deflate' && format !== 'deflate-raw') throw new TypeError(`unsupported compression format ${String(format)}`);
    if (mode !== 'compress' && mode !== 'decompress') throw new TypeError(`unknown compression mode ${String(mode)}`);
    this.#stream = create(format, mode);
    this.#stream.on('data', (chunk: Buffer) => this.#out.push(chunk));
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
    return exactBytes(out);
  }

  write(chunk: unknown): Promise<Uint8Array> {
    if (!(chunk instanceof Uint8Array)) return Promise.reject(new TypeError('compression: chunks must be bytes'));
    if (this.#error) return Promise.reject(new TypeError(`compression failed: ${this.#error.message}`));
    return new Promise((resolve, reject) => {
      this.#pending.add(reject);
      this.#stream.write(chunk, (error) => {
        if (!this.#pending.delete(reject)) return; // already failed through 'error'
        const failure = error ?? this.#error;
        if (failure) reject(new TypeError(`compression failed: ${failure.message}`));
        else resolve(this.#take());
      });
    });
  }

  end(): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      if (this.#error) return reject(new TypeError(`compression failed: ${this.#error.message}`));
      this.#pending.add(reject);
      this.#stream.once('end', () => {
        if (this.#pending.delete(reject)) resolve(this.#take());
      });
      this.#stream.end();
      this.#stream.resume();
    });
  }

  close(): void {
    this.#stream.destroy();
  }
}
