// node:zlib's *Sync forms (gzipSync, inflateSync, brotliCompressSync...): the whole input in one
// synchronous call, run by node:zlib's own sync functions inside the tenant's entry. Its CPU is
// the isolate's (the addon's cpuTime counts synchronous callbacks into Node), so the request's
// CPU limit covers it; as the call cannot be cut half-way, the input of one call is capped
// (MAX_INPUT) and so is its output (MAX_OUTPUT, as a stream's piece), which keeps one call to a
// few tens of milliseconds. The input's copy is charged to the isolate's memory (./host-memory.ts)
// while the call holds it; the output goes into the isolate's heap as the call returns. The streaming and callback forms go through the
// zlib pool instead (./compression.ts), without these caps.
import zlib from 'node:zlib';
import type { ZlibFormat, ZlibMode } from '../bridge/ops';
import { exactBytes } from './bytes';
import { refusal, type HostMemory } from './host-memory';
import type { HostOpHandlers } from './run';
import { zlibOptions } from './zlib-options';
import { isZlibFormat } from './zlib-stream';

export const MAX_INPUT = 4 * 1024 * 1024;
export const MAX_OUTPUT = 16 * 1024 * 1024;

type Options = ReturnType<typeof zlibOptions>;

function run(format: ZlibFormat, mode: ZlibMode, input: Uint8Array, options: Options): Buffer {
  if (format === 'brotli') {
    return mode === 'compress' ? zlib.brotliCompressSync(input, options) : zlib.brotliDecompressSync(input, options);
  }
  if (format === 'unzip') return zlib.unzipSync(input, options);
  if (mode === 'compress') {
    if (format === 'gzip') return zlib.gzipSync(input, options);
    return format === 'deflate' ? zlib.deflateSync(input, options) : zlib.deflateRawSync(input, options);
  }
  if (format === 'gzip') return zlib.gunzipSync(input, options);
  return format === 'deflate' ? zlib.inflateSync(input, options) : zlib.inflateRawSync(input, options);
}

export class ZlibSync {
  readonly #memory: HostMemory;

  constructor(memory: HostMemory) {
    this.#memory = memory;
  }

  readonly ops: HostOpHandlers<'zlibSync'> = {
    zlibSync: (_caller, format, mode, options, input) => {
      if (
        !isZlibFormat(format) ||
        (mode !== 'compress' && mode !== 'decompress') ||
        (format === 'unzip' && mode !== 'decompress')
      ) {
        return ['TypeError', `zlib: unsupported format ${String(format)} for ${String(mode)}`, null];
      }
      if (!(input instanceof Uint8Array)) return ['TypeError', 'zlib: the input must be bytes', null];
      if (input.byteLength > MAX_INPUT) {
        const why = `at most ${MAX_INPUT} bytes of input per call in islet; use the streaming or callback forms`;
        return ['RangeError', `zlib: the *Sync forms take ${why}`, null];
      }
      let checked: Options;
      try {
        checked = zlibOptions(options);
      } catch (error) {
        return [(error as Error).name, (error as Error).message, null];
      }
      if (!this.#memory.tryCharge(input.byteLength)) {
        return ['QuotaExceededError', refusal(input.byteLength, 'a zlib *Sync call'), null];
      }
      try {
        const output = run(format, mode, input, { ...checked, maxOutputLength: MAX_OUTPUT });
        return exactBytes(output);
      } catch (error) {
        const e = error as NodeJS.ErrnoException;
        if (e.code === 'ERR_BUFFER_TOO_LARGE') {
          return ['RangeError', `zlib: the output would pass ${MAX_OUTPUT} bytes; use the streaming forms`, null];
        }
        // node:zlib's own errors (bad data: "incorrect header check", "unexpected end of file")
        return ['Error', e.message, typeof e.code === 'string' ? e.code : null];
      } finally {
        this.#memory.release(input.byteLength);
      }
    },
  };
}
