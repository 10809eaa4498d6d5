// atob and btoa (HTML Standard, forgiving-base64).
import { DOMException } from '../events/dom-exception';
import { StringPrototypeCharCodeAt, StringFromCharCode, StringPrototypeReplace } from '../internal/primordials';

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const lookup = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) lookup[alphabet.charCodeAt(i)] = i;

export function btoa(data: unknown): string {
  if (arguments.length === 0) throw new TypeError("Failed to execute 'btoa': 1 argument required, but only 0 present.");
  const input = String(data);
  let out = '';
  for (let i = 0; i < input.length; i += 3) {
    const a = StringPrototypeCharCodeAt(input, i);
    const b = i + 1 < input.length ? StringPrototypeCharCodeAt(input, i + 1) : 0;
    const c = i + 2 < input.length ? StringPrototypeCharCodeAt(input, i + 2) : 0;
    if (a > 0xff || b > 0xff || c > 0xff)
      throw new DOMException(
        'The string to be encoded contains ' + 'characters outside of the Latin1 range.',
        'InvalidCharacterError',
      );
    out += alphabet[a >> 2] + alphabet[((a & 3) << 4) | (b >> 4)];
    out += i + 1 < input.length ? alphabet[((b & 15) << 2) | (c >> 6)] : '=';
    out += i + 2 < input.length ? alphabet[c & 63] : '=';
  }
  return out;
}

export function atob(data: unknown): string {
  if (arguments.length === 0) throw new TypeError("Failed to execute 'atob': 1 argument required, but only 0 present.");
  let input = StringPrototypeReplace(String(data), /[\t\n\f\r ]/g, '');
  if (input.length % 4 === 0) input = StringPrototypeReplace(input, /={1,2}$/, '');
  const invalid = () => new DOMException('The string to be decoded is not correctly encoded.', 'InvalidCharacterError');
  if (input.length % 4 === 1) throw invalid();
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (let i = 0; i < input.length; i++) {
    const code = StringPrototypeCharCodeAt(input, i);
    const value = code < 128 ? lookup[code] : -1;
    if (value < 0) throw invalid();
    buffer = (buffer << 6) | value;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += StringFromCharCode((buffer >> bits) & 0xff);
    }
  }
  return out;
}
