// The host half of TextDecoder for every encoding of the Encoding Standard besides those the
// isolate decodes itself (UTF-8, UTF-16LE, windows-1252: runtime-shims/encoding/text-codec.ts).
//
// Decoding is @exodus/bytes' TextDecoder, not Node's: Node 20's ICU decoders differ from the
// standard (measured against its index files: windows-1252 decodes 0x80-0x9F as C1 controls, big5
// lacks 5,088 HKSCS code points, euc-kr 8,824 of UHC's, gbk 101; koi8-u, windows-874, -1253 and
// -1255 a few each; iso-8859-16 and x-user-defined are missing), and a Node built with small ICU
// has none of them. @exodus/bytes implements the standard's decoders over its index tables in
// JavaScript, passes WPT's encoding tests, and keeps one copy of the tables for the process,
// whichever tenants use them.
//
// Bounded: one call decodes at most MAX_INPUT bytes (the isolate slices longer input), so a call
// is short and the request's CPU limit can cut between calls; every call runs inside the
// tenant's entry, on its CPU. A streaming decoder (`stream: true`) keeps its state here under an
// id; a sandbox holds at most MAX_OPEN of them, the least recently used dropped first (a decoder
// that comes back after that starts afresh: at most its few pending bytes are lost).
import { TextDecoder as SpecTextDecoder, normalizeEncoding } from '@exodus/bytes/encoding.js';
import type { HostOpHandlers } from './run';

/** the largest input of one call (the isolate slices longer input) */
export const MAX_INPUT = 1 << 20;
/** streaming decoders one sandbox keeps */
const MAX_OPEN = 256;

type Decoder = InstanceType<typeof SpecTextDecoder>;

/** whole decodes share one decoder per (encoding, fatal, ignoreBOM): a call without `stream` starts afresh */
const shared = new Map<string, Decoder>();

function sharedDecoder(encoding: string, fatal: boolean, ignoreBOM: boolean): Decoder {
  const key = `${encoding}|${fatal ? 1 : 0}|${ignoreBOM ? 1 : 0}`;
  let decoder = shared.get(key);
  if (!decoder) {
    decoder = new SpecTextDecoder(encoding, { fatal, ignoreBOM });
    shared.set(key, decoder);
  }
  return decoder;
}

function checked(bytes: Uint8Array): Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('TextDecoder: the bytes to decode must be a Uint8Array');
  if (bytes.byteLength > MAX_INPUT) throw new RangeError(`TextDecoder: at most ${MAX_INPUT} bytes per call`);
  return bytes;
}

/** a decode's result: its text, or null for invalid data under `fatal` */
function run(decode: () => string): string | null {
  try {
    return decode();
  } catch (error) {
    if (error instanceof TypeError) return null;
    throw error;
  }
}

export class TextDecoders {
  /** streaming decoders by id, least recently used first */
  readonly #open = new Map<number, Decoder>();
  #next = 1;

  readonly ops: HostOpHandlers<'textEncoding' | 'textDecode' | 'textDecodeStream'> = {
    textEncoding: (_caller, label) => {
      const name = normalizeEncoding(String(label));
      // the replacement encoding has no decoder a TextDecoder may use: its constructor throws
      return name === null || name === 'replacement' ? null : name;
    },
    textDecode: (_caller, encoding, fatal, ignoreBOM, bytes) => {
      const decoder = sharedDecoder(String(encoding), fatal === true, ignoreBOM === true);
      const input = checked(bytes);
      return run(() => decoder.decode(input));
    },
    textDecodeStream: (_caller, id, encoding, fatal, ignoreBOM, bytes, end) => {
      const input = checked(bytes);
      let decoder = this.#open.get(id);
      if (decoder) this.#open.delete(id);
      else {
        decoder = new SpecTextDecoder(String(encoding), { fatal: fatal === true, ignoreBOM: ignoreBOM === true });
        id = this.#next++;
      }
      const current = decoder;
      const text = run(() => current.decode(input, { stream: end !== true }));
      // over (or failed): forgotten; else the most recently used
      if (text === null) return null;
      if (end !== true) {
        this.#open.set(id, current);
        if (this.#open.size > MAX_OPEN) this.#open.delete(this.#open.keys().next().value!);
      }
      return [id, text];
    },
  };

  dispose(): void {
    this.#open.clear();
  }
}
