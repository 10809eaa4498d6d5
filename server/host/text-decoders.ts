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
// Bounded and charged: one call decodes at most MAX_INPUT bytes (the isolate slices longer input),
// so a call is short and the request's CPU limit can cut between calls; every call runs inside the
// tenant's entry, synchronously, so its CPU is the isolate's (the addon's cpuTime counts
// synchronous callbacks into Node). The host memory a call holds (its copy of the input, the text
// it builds) and the state of every open streaming decoder are charged to the isolate's memory
// (./host-memory.ts): past its limit the decode is refused with QuotaExceededError. A sandbox keeps
// at most MAX_OPEN streaming decoders (`stream: true`), the least recently used dropped first; a
// dropped decoder that comes back gets a TypeError saying so, never silently lost bytes.
import { TextDecoder as SpecTextDecoder, normalizeEncoding } from '@exodus/bytes/encoding.js';
import type { DecodeAnswer } from '../bridge/ops';
import type { HostMemory } from './host-memory';
import type { HostOpHandlers } from './run';

/** the largest input of one call (the isolate slices longer input) */
export const MAX_INPUT = 1 << 20;
/** streaming decoders one sandbox keeps */
export const MAX_OPEN = 256;
/** what one open streaming decoder is charged (its object and state: a few pending bytes, a mode) */
const DECODER_BYTES = 1024;
/** host bytes per input byte while a call runs: the input's copy and up to two bytes of text per byte */
const BYTES_PER_INPUT = 3;

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

const INVALID: DecodeAnswer = ['TypeError', 'invalid'];

export class TextDecoders {
  readonly #memory: HostMemory;
  /** streaming decoders by id, least recently used first */
  readonly #open = new Map<number, Decoder>();
  #next = 1;

  constructor(memory: HostMemory) {
    this.#memory = memory;
  }

  /** runs `decode` over `input` with its host memory charged; a refusal ([name, message]) instead of a throw */
  #run(input: Uint8Array, decode: () => string): string | DecodeAnswer {
    const bytes = input.byteLength * BYTES_PER_INPUT;
    if (!this.#memory.tryCharge(bytes)) {
      return [
        'QuotaExceededError',
        `TextDecoder: decoding ${input.byteLength} bytes would pass the isolate's memory limit`,
      ];
    }
    try {
      return decode();
    } catch (error) {
      // the spec decoder's TypeError: invalid data under `fatal`
      if (error instanceof TypeError) return INVALID;
      throw error;
    } finally {
      this.#memory.release(bytes);
    }
  }

  readonly ops: HostOpHandlers<'textEncoding' | 'textDecode' | 'textDecodeStream'> = {
    textEncoding: (_caller, label) => {
      const name = normalizeEncoding(String(label));
      // the replacement encoding has no decoder a TextDecoder may use: its constructor throws
      return name === null || name === 'replacement' ? null : name;
    },
    textDecode: (_caller, encoding, fatal, ignoreBOM, bytes) => {
      const decoder = sharedDecoder(String(encoding), fatal === true, ignoreBOM === true);
      const input = checked(bytes);
      return this.#run(input, () => decoder.decode(input));
    },
    textDecodeStream: (_caller, id, encoding, fatal, ignoreBOM, bytes, end) => {
      const input = checked(bytes);
      let decoder = this.#open.get(id);
      if (decoder) this.#forget(id);
      else if (id !== 0) {
        const why = `more than ${MAX_OPEN} streaming decodes were open at once in this isolate`;
        return ['TypeError', `TextDecoder: this streaming decode was dropped (${why})`];
      } else {
        decoder = new SpecTextDecoder(String(encoding), { fatal: fatal === true, ignoreBOM: ignoreBOM === true });
        id = this.#next++;
      }
      const current = decoder;
      const text = this.#run(input, () => current.decode(input, { stream: end !== true }));
      // over (or failed): forgotten; else open again, the most recently used
      if (typeof text !== 'string') return text;
      if (end !== true) {
        if (!this.#memory.tryCharge(DECODER_BYTES)) {
          return ['QuotaExceededError', "TextDecoder: a streaming decode would pass the isolate's memory limit"];
        }
        this.#open.set(id, current);
        if (this.#open.size > MAX_OPEN) this.#forget(this.#open.keys().next().value!);
      }
      return [id, text];
    },
  };

  #forget(id: number): void {
    if (this.#open.delete(id)) this.#memory.release(DECODER_BYTES);
  }

  dispose(): void {
    for (const id of [...this.#open.keys()]) this.#forget(id);
  }
}
