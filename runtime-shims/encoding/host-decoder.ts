// TextDecoder's encodings decoded on the host (server/host/text-decoders.ts): every one of the
// Encoding Standard's except UTF-8, UTF-16LE and windows-1252, which text-codec.ts decodes here.
// The decoders' tables live once in the host process instead of in every isolate that names a
// legacy encoding. A decode crosses once per MiB of input (the host refuses more per call, so
// each call is short and the request's CPU limit can cut between them); a streaming decode keeps
// its state on the host under an id this object holds until the stream ends.
import { host, hostError } from '../internal/bridge';
import type { DecodeAnswer } from '../../server/bridge/ops';
import { MathMin, SafeTypeError, TypedArrayPrototypeSubarray } from '../internal/primordials';

/** bytes per host call; the host's MAX_INPUT */
const SLICE = 1 << 20;

/** the encoding `label` names, by the host's table (null: none, or one a TextDecoder may not use) */
export function hostEncoding(label: string): string | null {
  return host('textEncoding', label);
}

export class HostDecoder {
  readonly #encoding: string;
  readonly #fatal: boolean;
  readonly #ignoreBOM: boolean;
  /** the host's streaming decoder (0: none) */
  #id = 0;

  constructor(encoding: string, fatal: boolean, ignoreBOM: boolean) {
    this.#encoding = encoding;
    this.#fatal = fatal;
    this.#ignoreBOM = ignoreBOM;
  }

  decode(bytes: Uint8Array, stream: boolean): string {
    if (!stream && this.#id === 0 && bytes.length <= SLICE) {
      const text = host('textDecode', this.#encoding, this.#fatal, this.#ignoreBOM, bytes);
      if (typeof text !== 'string') throw this.#refused(text);
      return text;
    }
    let text = '';
    let offset = 0;
    do {
      const end = MathMin(offset + SLICE, bytes.length);
      const last = end === bytes.length && !stream;
      const slice = offset === 0 && end === bytes.length ? bytes : TypedArrayPrototypeSubarray(bytes, offset, end);
      const answer = host('textDecodeStream', this.#id, this.#encoding, this.#fatal, this.#ignoreBOM, slice, last);
      if (typeof answer[0] === 'string') {
        this.#id = 0;
        throw this.#refused(answer as DecodeAnswer);
      }
      this.#id = last ? 0 : (answer[0] as number);
      text += answer[1];
      offset = end;
    } while (offset < bytes.length);
    return text;
  }

  /** the error of a refused call: invalid data under `fatal`, a dropped stream, or memory */
  #refused(answer: DecodeAnswer): Error {
    if (answer[0] === 'TypeError' && answer[1] === 'invalid') {
      return new SafeTypeError(`The encoded data was not valid for encoding ${this.#encoding}`);
    }
    return hostError(answer);
  }
}
