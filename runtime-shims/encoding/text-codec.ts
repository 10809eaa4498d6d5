// TextEncoder and TextDecoder (Encoding Standard). UTF-8 is the encoding of the Web and the only
// one TextEncoder has; TextDecoder decodes it, UTF-16LE and windows-1252/latin1 here, and every
// other encoding of the standard on the host (host-decoder.ts), which also resolves the labels
// this file does not know. Labels of no encoding (or of `replacement`) throw RangeError.
import { utf8Encode, Utf8Decoder } from './utf8';
import { HostDecoder, hostEncoding } from './host-decoder';
import {
  SafeRangeError, SafeTypeError, bufferSourceBytes, StringPrototypeToLowerCase, StringFromCharCode, SafeUint8Array,
  TypedArrayPrototypeSet, ObjectPrototypeHasOwnProperty,
} from '../internal/primordials';

export class TextEncoder {
  get encoding(): string {
    return 'utf-8';
  }
  encode(input: unknown = ''): Uint8Array {
    return utf8Encode(String(input));
  }
  encodeInto(source: string, destination: Uint8Array): { read: number; written: number } {
    if (!(destination instanceof SafeUint8Array)) throw new SafeTypeError("Failed to execute 'encodeInto': parameter 2 is not of type 'Uint8Array'.");
    source = String(source);
    let read = 0;
    let written = 0;
    // encode code point by code point until the next one would not fit
    for (let i = 0; i < source.length; ) {
      const cp = source.codePointAt(i)!;
      const units = cp > 0xffff ? 2 : 1;
      const bytes = utf8Encode(source.slice(i, i + units));
      if (written + bytes.length > destination.length) break;
      TypedArrayPrototypeSet(destination, bytes, written);
      written += bytes.length;
      read += units;
      i += units;
    }
    return { read, written };
  }
}

const labels: Record<string, string> = {
  'utf-8': 'utf-8', utf8: 'utf-8', 'unicode-1-1-utf-8': 'utf-8', 'unicode11utf8': 'utf-8', 'unicode20utf8': 'utf-8', 'x-unicode20utf8': 'utf-8',
  'utf-16le': 'utf-16le', 'utf-16': 'utf-16le', ucs2: 'utf-16le',
  latin1: 'windows-1252', 'iso-8859-1': 'windows-1252', 'windows-1252': 'windows-1252', ascii: 'windows-1252', 'us-ascii': 'windows-1252', l1: 'windows-1252', cp1252: 'windows-1252',
};

/** Encoding "get an encoding": only ASCII whitespace (TAB, LF, FF, CR, SPACE) is trimmed, not \v or NBSP */
function trimAsciiWhitespace(s: string): string {
  const ascii = (c: number) => c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d || c === 0x20;
  let start = 0;
  let end = s.length;
  while (start < end && ascii(s.charCodeAt(start))) start++;
  while (end > start && ascii(s.charCodeAt(end - 1))) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/** decode()'s [AllowShared] BufferSource: shared memory is copied, it may change under us */
function inputBytes(input: unknown): Uint8Array {
  const shared = (v: unknown) => typeof SharedArrayBuffer === 'function' && v instanceof SharedArrayBuffer;
  if (shared(input)) return new SafeUint8Array(input as SharedArrayBuffer).slice();
  const bytes = bufferSourceBytes(input, false);
  return shared(bytes.buffer) ? bytes.slice() : bytes;
}

export class TextDecoder {
  #encoding: string;
  #fatal: boolean;
  #ignoreBOM: boolean;
  #utf8: Utf8Decoder | null = null;
  #bomSeen = false;
  #pending: Uint8Array | null = null;
  /** UTF-16: a leading surrogate whose trail has not arrived yet (-1: none) */
  #lead = -1;
  /** the other encodings: decoded on the host */
  #host: HostDecoder | null = null;

  constructor(label: unknown = 'utf-8', options?: { fatal?: boolean; ignoreBOM?: boolean }) {
    const text = String(label);
    const key = StringPrototypeToLowerCase(trimAsciiWhitespace(text));
    const encoding = ObjectPrototypeHasOwnProperty(labels, key) ? labels[key] : hostEncoding(key);
    if (!encoding) throw new SafeRangeError(`The encoding label provided ('${text}') is invalid or not supported.`);
    this.#encoding = encoding;
    this.#fatal = !!options?.fatal;
    this.#ignoreBOM = !!options?.ignoreBOM;
    if (encoding !== 'utf-8' && encoding !== 'utf-16le' && encoding !== 'windows-1252') {
      this.#host = new HostDecoder(encoding, this.#fatal, this.#ignoreBOM);
    }
  }
  get encoding() { return this.#encoding; }
  get fatal() { return this.#fatal; }
  get ignoreBOM() { return this.#ignoreBOM; }

  decode(input?: unknown, options?: { stream?: boolean }): string {
    const stream = !!options?.stream;
    let bytes = input === undefined || input === null ? new SafeUint8Array(0) : inputBytes(input);
    if (this.#pending) {
      const joined = new SafeUint8Array(this.#pending.length + bytes.length);
      TypedArrayPrototypeSet(joined, this.#pending, 0);
      TypedArrayPrototypeSet(joined, bytes, this.#pending.length);
      bytes = joined;
      this.#pending = null;
    }
    let text: string;
    if (this.#host !== null) {
      text = this.#host.decode(bytes, stream);
    } else if (this.#encoding === 'utf-8') {
      this.#utf8 ??= new Utf8Decoder(this.#fatal);
      text = this.#utf8.decode(bytes, !stream);
      if (!this.#bomSeen && text.length) {
        this.#bomSeen = true;
        if (!this.#ignoreBOM && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      }
    } else if (this.#encoding === 'utf-16le') {
      text = this.#utf16(bytes, stream);
      if (!this.#bomSeen && text.length) {
        this.#bomSeen = true;
        if (!this.#ignoreBOM && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      }
    } else {
      text = '';
      for (let i = 0; i < bytes.length; i++) text += StringFromCharCode(win1252(bytes[i]));
    }
    if (!stream) {
      this.#utf8 = null;
      this.#bomSeen = false;
      this.#lead = -1;
    }
    return text;
  }

  /** Encoding's shared UTF-16 decoder, little-endian: a lone surrogate is an error (U+FFFD) */
  #utf16(bytes: Uint8Array, stream: boolean): string {
    const fail = (): string => {
      if (this.#fatal) throw new SafeTypeError('The encoded data was not valid for encoding utf-16le');
      return '\ufffd';
    };
    const even = bytes.length & ~1;
    let text = '';
    for (let i = 0; i < even; i += 2) {
      const unit = bytes[i] | (bytes[i + 1] << 8);
      if (this.#lead !== -1) {
        const lead = this.#lead;
        this.#lead = -1;
        if (unit >= 0xdc00 && unit <= 0xdfff) {
          text += StringFromCharCode(lead, unit);
          continue;
        }
        text += fail();
      }
      if (unit >= 0xd800 && unit <= 0xdbff) this.#lead = unit;
      else if (unit >= 0xdc00 && unit <= 0xdfff) text += fail();
      else text += StringFromCharCode(unit);
    }
    if (stream) {
      if (even < bytes.length) this.#pending = bytes.slice(even);
    } else if (even < bytes.length || this.#lead !== -1) {
      this.#lead = -1;
      text += fail();
    }
    return text;
  }
}

const high = [0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f,
  0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178];
function win1252(byte: number): number {
  return byte >= 0x80 && byte < 0xa0 ? high[byte - 0x80] : byte;
}
