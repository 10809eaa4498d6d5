// node:zlib backed by the host's node:zlib: gzip, deflate, deflate-raw, unzip and brotli, as
// streams (createGzip()...), callback forms (gzip(buf, cb), so util.promisify works) and *Sync
// forms. Streams and callbacks go through the host streams CompressionStream uses (each piece a
// job on the host's zlib pool, charged to the request; ./../internal/zlib-host.ts); *Sync forms are
// one bounded host call each. Options: the numeric tuning node:zlib has (level, windowBits,
// memLevel, strategy, brotli params), checked on the host; others are refused with a clear error.
// Like Node, decompression ignores data after the end of the compressed stream.
import { internals } from 'islet:internal';
import { Buffer } from './buffer';
import stream from './stream';
import { constants, codes } from './zlib-constants';
import type { ZlibFormat, ZlibMode, ZlibTuning } from '../../server/bridge/ops';

const host = internals().zlib;
/** bytes per host write, as CompressionStream */
const PIECE = 256 * 1024;

type Callback = (error: Error | null, result?: Uint8Array) => void;
type Options = Record<string, unknown> | undefined;

/** the bytes of `input` as node:zlib takes it (string, Buffer, TypedArray, DataView, ArrayBuffer) */
function bytesOf(input: unknown, name = 'buffer'): Uint8Array {
  if (typeof input === 'string') return Buffer.from(input, 'utf8');
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const error = new TypeError(
    `The "${name}" argument must be of type string or an instance of Buffer, TypedArray, DataView, or ArrayBuffer.`,
  ) as TypeError & { code: string };
  error.code = 'ERR_INVALID_ARG_TYPE';
  throw error;
}

/** the options the host checks (numeric tuning); the stream options are the Transform's */
function tuning(options: Options): ZlibTuning | null {
  if (options === undefined || options === null) return null;
  if (typeof options !== 'object') throw new TypeError('zlib: options must be an object');
  const out: Record<string, unknown> = {};
  for (const name of ['level', 'windowBits', 'memLevel', 'strategy', 'params', 'dictionary']) {
    if (options[name] !== undefined) out[name] = options[name];
  }
  return out as ZlibTuning;
}

const toBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** a zlib Transform stream over one host stream, opened with the first write */
class ZlibBase extends stream.Transform {
  readonly #format: ZlibFormat;
  readonly #mode: ZlibMode;
  readonly #tuning: ZlibTuning | null;
  #id: number | null = null;
  /** the host said the compressed data ended: later input is ignored, as Node does */
  #ended = false;
  bytesWritten = 0;

  constructor(format: ZlibFormat, mode: ZlibMode, options?: Options) {
    super({ ...(options ?? {}), readableObjectMode: false, writableObjectMode: false });
    this.#format = format;
    this.#mode = mode;
    this.#tuning = tuning(options);
  }

  get _handle(): unknown {
    return this.#id;
  }

  #open(): number {
    this.#id ??= host.open(this.#format, this.#mode, this.#tuning);
    return this.#id;
  }

  _transform(chunk: unknown, encoding: string, callback: (error?: Error | null) => void): void {
    let bytes: Uint8Array;
    try {
      bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding as any) : bytesOf(chunk, 'chunk');
      this.#open();
    } catch (error) {
      callback(error as Error);
      return;
    }
    this.bytesWritten += bytes.byteLength;
    this.#write(bytes.slice()).then(
      () => callback(),
      (error: Error) => callback(zlibError(error)),
    );
  }

  async #write(bytes: Uint8Array): Promise<void> {
    for (let offset = 0; offset < bytes.byteLength && !this.#ended; offset += PIECE) {
      const [out, failure] = await host.write(this.#id!, bytes.subarray(offset, offset + PIECE));
      if (out.byteLength) this.push(toBuffer(out));
      if (failure !== null) this.#ended = true;
    }
  }

  _flush(callback: (error?: Error | null) => void): void {
    let id: number;
    try {
      id = this.#open();
    } catch (error) {
      callback(error as Error);
      return;
    }
    host.end(id).then(
      (out) => {
        this.#close();
        if (out.byteLength) this.push(toBuffer(out));
        callback();
      },
      (error: Error) => {
        this.#close();
        callback(zlibError(error));
      },
    );
  }

  _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#close();
    callback(error);
  }

  #close(): void {
    if (this.#id !== null) host.close(this.#id);
    this.#id = null;
  }

  close(callback?: () => void): void {
    if (callback) stream.finished(this, () => callback());
    this.destroy();
  }

  flush(): never {
    throw notInIslet('flush()');
  }

  params(): never {
    throw notInIslet('params()');
  }

  reset(): never {
    throw notInIslet('reset()');
  }
}

function notInIslet(what: string): Error {
  const error = new Error(`zlib ${what} is not available in islet`) as Error & { code: string };
  error.code = 'ERR_NOT_AVAILABLE_IN_ISLET';
  return error;
}

/** a failure of the host stream, as Node's zlib reports bad data (an Error with a Z_ code) */
function zlibError(error: Error): Error {
  const message = error.message.replace(/^compression failed: /, '');
  if (error.name !== 'TypeError' || message === error.message) return error;
  const out = new Error(message) as Error & { code?: string };
  if (/unexpected end/.test(message)) out.code = 'Z_BUF_ERROR';
  else if (/check|invalid|incorrect|unknown/.test(message)) out.code = 'Z_DATA_ERROR';
  return out;
}

function streamClass(format: ZlibFormat, mode: ZlibMode, name: string) {
  const C = class extends ZlibBase {
    constructor(options?: Options) {
      super(format, mode, options);
    }
  };
  Object.defineProperty(C, 'name', { value: name });
  return C;
}

export const Gzip = streamClass('gzip', 'compress', 'Gzip');
export const Gunzip = streamClass('gzip', 'decompress', 'Gunzip');
export const Deflate = streamClass('deflate', 'compress', 'Deflate');
export const Inflate = streamClass('deflate', 'decompress', 'Inflate');
export const DeflateRaw = streamClass('deflate-raw', 'compress', 'DeflateRaw');
export const InflateRaw = streamClass('deflate-raw', 'decompress', 'InflateRaw');
export const Unzip = streamClass('unzip', 'decompress', 'Unzip');
export const BrotliCompress = streamClass('brotli', 'compress', 'BrotliCompress');
export const BrotliDecompress = streamClass('brotli', 'decompress', 'BrotliDecompress');

export const createGzip = (options?: Options) => new Gzip(options);
export const createGunzip = (options?: Options) => new Gunzip(options);
export const createDeflate = (options?: Options) => new Deflate(options);
export const createInflate = (options?: Options) => new Inflate(options);
export const createDeflateRaw = (options?: Options) => new DeflateRaw(options);
export const createInflateRaw = (options?: Options) => new InflateRaw(options);
export const createUnzip = (options?: Options) => new Unzip(options);
export const createBrotliCompress = (options?: Options) => new BrotliCompress(options);
export const createBrotliDecompress = (options?: Options) => new BrotliDecompress(options);

/** the callback form: the whole input through a host stream, the output to `callback` */
function callbackForm(format: ZlibFormat, mode: ZlibMode) {
  return (input: unknown, options: Options | Callback, callback?: Callback): void => {
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    if (typeof callback !== 'function') {
      const error = new TypeError('The "callback" argument must be of type function') as TypeError & { code: string };
      error.code = 'ERR_INVALID_ARG_TYPE';
      throw error;
    }
    const bytes = bytesOf(input).slice();
    const transform = new ZlibBase(format, mode, options);
    const chunks: Uint8Array[] = [];
    const done = callback;
    transform.on('data', (chunk: Uint8Array) => chunks.push(chunk));
    transform.on('error', (error: Error) => done(error));
    transform.on('end', () => done(null, Buffer.concat(chunks)));
    transform.end(bytes);
  };
}

function syncForm(format: ZlibFormat, mode: ZlibMode) {
  return (input: unknown, options?: Options): Uint8Array => {
    const out = host.sync(format, mode, tuning(options), bytesOf(input));
    return toBuffer(out);
  };
}

export const gzip = callbackForm('gzip', 'compress');
export const gunzip = callbackForm('gzip', 'decompress');
export const deflate = callbackForm('deflate', 'compress');
export const inflate = callbackForm('deflate', 'decompress');
export const deflateRaw = callbackForm('deflate-raw', 'compress');
export const inflateRaw = callbackForm('deflate-raw', 'decompress');
export const unzip = callbackForm('unzip', 'decompress');
export const brotliCompress = callbackForm('brotli', 'compress');
export const brotliDecompress = callbackForm('brotli', 'decompress');

export const gzipSync = syncForm('gzip', 'compress');
export const gunzipSync = syncForm('gzip', 'decompress');
export const deflateSync = syncForm('deflate', 'compress');
export const inflateSync = syncForm('deflate', 'decompress');
export const deflateRawSync = syncForm('deflate-raw', 'compress');
export const inflateRawSync = syncForm('deflate-raw', 'decompress');
export const unzipSync = syncForm('unzip', 'decompress');
export const brotliCompressSync = syncForm('brotli', 'compress');
export const brotliDecompressSync = syncForm('brotli', 'decompress');

export { constants, codes };

/** Node's module also carries the zlib constants (Z_*) as properties of its own */
const legacyConstants = Object.fromEntries(Object.entries(constants).filter(([name]) => name.startsWith('Z_')));

export default {
  ...legacyConstants,
  constants,
  codes,
  Gzip,
  Gunzip,
  Deflate,
  Inflate,
  DeflateRaw,
  InflateRaw,
  Unzip,
  BrotliCompress,
  BrotliDecompress,
  createGzip,
  createGunzip,
  createDeflate,
  createInflate,
  createDeflateRaw,
  createInflateRaw,
  createUnzip,
  createBrotliCompress,
  createBrotliDecompress,
  gzip,
  gunzip,
  deflate,
  inflate,
  deflateRaw,
  inflateRaw,
  unzip,
  brotliCompress,
  brotliDecompress,
  gzipSync,
  gunzipSync,
  deflateSync,
  inflateSync,
  deflateRawSync,
  inflateRawSync,
  unzipSync,
  brotliCompressSync,
  brotliDecompressSync,
};
