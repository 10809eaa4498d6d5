// What node:zlib (a built-in module, without the bridge) may ask of the host: the zlib streams
// CompressionStream uses (open/write/end/close, each write a job on the host's zlib pool charged
// to the request) and the one-call *Sync form. Handed to the built-ins through islet:internal
// (./builtin-internals.ts); no more power than a tenant has through CompressionStream, plus a
// bounded synchronous call.
import type { ZlibFormat, ZlibMode, ZlibOutput, ZlibTuning } from '../../server/bridge/ops';
import { host, hostAsync, hostError } from './bridge';
import { ObjectFreeze, SafeError, SafeRangeError } from './primordials';

export interface ZlibHost {
  /** a host stream; throws when `options` are refused or outside a request */
  open(format: ZlibFormat, mode: ZlibMode, options: ZlibTuning | null): number;
  /** one piece (at most 256 KiB): the output so far, and the failure after data past the end */
  write(id: number, piece: Uint8Array): Promise<ZlibOutput>;
  end(id: number): Promise<Uint8Array>;
  close(id: number): void;
  /** the whole input in one call (at most 4 MiB); throws node:zlib's error (with its code) */
  sync(format: ZlibFormat, mode: ZlibMode, options: ZlibTuning | null, input: Uint8Array): Uint8Array;
}

export const zlibHost: ZlibHost = ObjectFreeze({
  open: (format: ZlibFormat, mode: ZlibMode, options: ZlibTuning | null) => host('zlibOpen', format, mode, options),
  write: (id: number, piece: Uint8Array) => hostAsync('zlibWrite', id, piece).promise,
  end: (id: number) => hostAsync('zlibEnd', id).promise,
  close: (id: number) => host('zlibClose', id),
  sync(format: ZlibFormat, mode: ZlibMode, options: ZlibTuning | null, input: Uint8Array): Uint8Array {
    const answer = host('zlibSync', format, mode, options, input);
    if (answer instanceof Uint8Array) return answer;
    const [name, message, code] = answer;
    if (name === 'RangeError') throw new SafeRangeError(message);
    if (name === 'TypeError' || name === 'QuotaExceededError') throw hostError([name, message]);
    const error = new SafeError(message) as Error & { code?: string };
    if (code !== null) error.code = code;
    throw error;
  },
});
