// UTF-8 in the isolate. Short strings are encoded and decoded here (crossing the bridge would
// cost more than the work); long ones go to the host, whose native codec is much faster than
// JavaScript loops and whose copy across the bridge is a memcpy.
import { host } from '../internal/bridge';
import {
  SafeUint8Array,
  StringFromCharCode,
  ReflectApply,
  StringPrototypeCharCodeAt,
  SafeTypeError,
  TypedArrayPrototypeSlice,
} from '../internal/primordials';

const HOST_THRESHOLD = 4096;

export function utf8Encode(input: string): Uint8Array {
  const length = input.length;
  if (length > HOST_THRESHOLD) return host('utf8Encode', input);
  const out = new SafeUint8Array(length * 3);
  let o = 0;
  for (let i = 0; i < length; i++) {
    let c = StringPrototypeCharCodeAt(input, i);
    if (c < 0x80) {
      out[o++] = c;
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < length ? StringPrototypeCharCodeAt(input, i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
      } else {
        c = 0xfffd; // lone surrogate: USVString conversion replaces it
      }
    }
    if (c < 0x800) {
      out[o++] = 0xc0 | (c >> 6);
      out[o++] = 0x80 | (c & 0x3f);
    } else if (c < 0x10000) {
      out[o++] = 0xe0 | (c >> 12);
      out[o++] = 0x80 | ((c >> 6) & 0x3f);
      out[o++] = 0x80 | (c & 0x3f);
    } else {
      out[o++] = 0xf0 | (c >> 18);
      out[o++] = 0x80 | ((c >> 12) & 0x3f);
      out[o++] = 0x80 | ((c >> 6) & 0x3f);
      out[o++] = 0x80 | (c & 0x3f);
    }
  }
  return TypedArrayPrototypeSlice(out, 0, o);
}

/** Encoding Standard UTF-8 decoder with state kept between calls (for streaming). */
export class Utf8Decoder {
  #needed = 0;
  #seen = 0;
  #codePoint = 0;
  #lower = 0x80;
  #upper = 0xbf;
  #fatal: boolean;
  constructor(fatal: boolean) {
    this.#fatal = fatal;
  }

  /** decodes `bytes`; with `flush`, an unfinished sequence at the end becomes U+FFFD (or throws when fatal) */
  decode(bytes: Uint8Array, flush: boolean): string {
    if (this.#needed === 0 && flush && bytes.length > HOST_THRESHOLD) {
      const text: string | null = host('utf8Decode', bytes, this.#fatal);
      if (text === null) throw new SafeTypeError('The encoded data was not valid for encoding utf-8');
      return text;
    }
    let out = '';
    const units: number[] = [];
    const push = (unit: number) => {
      units[units.length] = unit;
      if (units.length >= 8192) {
        out += ReflectApply(StringFromCharCode, null, units);
        units.length = 0;
      }
    };
    const error = () => {
      if (this.#fatal) {
        this.#needed = 0;
        throw new SafeTypeError('The encoded data was not valid for encoding utf-8');
      }
      push(0xfffd);
    };
    const length = bytes.length;
    for (let i = 0; i < length; i++) {
      const byte = bytes[i];
      if (this.#needed === 0) {
        if (byte < 0x80) push(byte);
        else if (byte >= 0xc2 && byte <= 0xdf) {
          this.#needed = 1;
          this.#codePoint = byte & 0x1f;
        } else if (byte >= 0xe0 && byte <= 0xef) {
          if (byte === 0xe0) this.#lower = 0xa0;
          if (byte === 0xed) this.#upper = 0x9f;
          this.#needed = 2;
          this.#codePoint = byte & 0xf;
        } else if (byte >= 0xf0 && byte <= 0xf4) {
          if (byte === 0xf0) this.#lower = 0x90;
          if (byte === 0xf4) this.#upper = 0x8f;
          this.#needed = 3;
          this.#codePoint = byte & 0x7;
        } else error();
        continue;
      }
      if (byte < this.#lower || byte > this.#upper) {
        this.#codePoint = this.#needed = this.#seen = 0;
        this.#lower = 0x80;
        this.#upper = 0xbf;
        i--; // the byte starts over
        error();
        continue;
      }
      this.#lower = 0x80;
      this.#upper = 0xbf;
      this.#codePoint = (this.#codePoint << 6) | (byte & 0x3f);
      if (++this.#seen !== this.#needed) continue;
      const cp = this.#codePoint;
      this.#codePoint = this.#needed = this.#seen = 0;
      if (cp > 0xffff) {
        push(0xd800 + ((cp - 0x10000) >> 10));
        push(0xdc00 + ((cp - 0x10000) & 0x3ff));
      } else push(cp);
    }
    if (flush && this.#needed !== 0) {
      this.#codePoint = this.#needed = this.#seen = 0;
      this.#lower = 0x80;
      this.#upper = 0xbf;
      error();
    }
    if (units.length) out += ReflectApply(StringFromCharCode, null, units);
    return out;
  }
}

export function utf8Decode(bytes: Uint8Array): string {
  return new Utf8Decoder(false).decode(bytes, true);
}
