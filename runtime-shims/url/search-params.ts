// URLSearchParams (URL Standard), in the isolate: the application/x-www-form-urlencoded parser
// and serializer are small, and keeping them here saves a bridge crossing per query string.
import { utf8Encode, utf8Decode } from '../encoding/utf8';
import {
  SafeTypeError,
  SafeUint8Array,
  StringPrototypeCharCodeAt,
  StringPrototypeSlice,
  StringPrototypeIndexOf,
  append,
  ArrayPrototypeSplice,
  ArrayIsArray,
  SymbolIterator,
  ObjectKeys,
  TypedArrayPrototypeSlice,
} from '../internal/primordials';

type Pair = [string, string];
const hex = '0123456789ABCDEF';

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** percent-decodes a string (after '+' -> space when asked) into UTF-8 text */
export function percentDecode(input: string, plusAsSpace: boolean): string {
  const source = utf8Encode(input);
  const out = new SafeUint8Array(source.length);
  let o = 0;
  for (let i = 0; i < source.length; i++) {
    const byte = source[i];
    if (byte === 0x25 && i + 2 < source.length) {
      const h = hexValue(source[i + 1]);
      const l = hexValue(source[i + 2]);
      if (h >= 0 && l >= 0) {
        out[o++] = (h << 4) | l;
        i += 2;
        continue;
      }
    }
    out[o++] = plusAsSpace && byte === 0x2b ? 0x20 : byte;
  }
  return utf8Decode(TypedArrayPrototypeSlice(out, 0, o));
}

export function parseUrlencoded(input: string): Pair[] {
  const pairs: Pair[] = [];
  let start = 0;
  while (start <= input.length) {
    let end = StringPrototypeIndexOf(input, '&', start);
    if (end < 0) end = input.length;
    if (end > start) {
      const piece = StringPrototypeSlice(input, start, end);
      const eq = StringPrototypeIndexOf(piece, '=');
      const name = eq < 0 ? piece : StringPrototypeSlice(piece, 0, eq);
      const value = eq < 0 ? '' : StringPrototypeSlice(piece, eq + 1);
      append(pairs, [percentDecode(name, true), percentDecode(value, true)]);
    }
    start = end + 1;
  }
  return pairs;
}

function serializeComponent(text: string): string {
  let out = '';
  const bytes = utf8Encode(text);
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (
      (b >= 0x30 && b <= 0x39) ||
      (b >= 0x41 && b <= 0x5a) ||
      (b >= 0x61 && b <= 0x7a) ||
      b === 0x2a ||
      b === 0x2d ||
      b === 0x2e ||
      b === 0x5f
    )
      out += String.fromCharCode(b);
    else if (b === 0x20) out += '+';
    else out += '%' + hex[b >> 4] + hex[b & 15];
  }
  return out;
}

export function serializeUrlencoded(pairs: Pair[]): string {
  let out = '';
  for (let i = 0; i < pairs.length; i++) {
    if (i) out += '&';
    out += serializeComponent(pairs[i][0]) + '=' + serializeComponent(pairs[i][1]);
  }
  return out;
}

/** USVString conversion: lone surrogates become U+FFFD */
export function toUSVString(value: unknown): string {
  const s = String(value);
  for (let i = 0; i < s.length; i++) {
    const c = StringPrototypeCharCodeAt(s, i);
    if (c >= 0xd800 && c <= 0xdfff) return s.toWellFormed ? s.toWellFormed() : utf8Decode(utf8Encode(s));
  }
  return s;
}

let attach: (params: URLSearchParams, onUpdate: (serialized: string) => void) => void;
let reset: (params: URLSearchParams, query: string) => void;

export class URLSearchParams {
  #list: Pair[] = [];
  #onUpdate: ((serialized: string) => void) | null = null;

  constructor(init: unknown = '') {
    if (init instanceof URLSearchParams) {
      for (const [n, v] of init.#list) append(this.#list, [n, v]);
    } else if ((init !== null && typeof init === 'object') || typeof init === 'function') {
      const iterator = (init as any)[SymbolIterator];
      if (iterator !== undefined) {
        if (typeof iterator !== 'function') throw new SafeTypeError('URLSearchParams: the init object is not iterable');
        for (const pair of init as Iterable<unknown>) {
          const p = ArrayIsArray(pair) ? pair : [...(pair as Iterable<unknown>)];
          if (p.length !== 2)
            throw new SafeTypeError('URLSearchParams: each pair of the init ' + 'sequence must have exactly two items');
          append(this.#list, [toUSVString(p[0]), toUSVString(p[1])]);
        }
      } else {
        for (const key of ObjectKeys(init as object))
          append(this.#list, [toUSVString(key), toUSVString((init as any)[key])]);
      }
    } else {
      let query = toUSVString(init);
      if (StringPrototypeCharCodeAt(query, 0) === 0x3f) query = StringPrototypeSlice(query, 1);
      this.#list = parseUrlencoded(query);
    }
  }

  #update(): void {
    if (this.#onUpdate) this.#onUpdate(serializeUrlencoded(this.#list));
  }
  get size(): number {
    return this.#list.length;
  }
  append(name: string, value: string): void {
    append(this.#list, [toUSVString(name), toUSVString(value)]);
    this.#update();
  }
  delete(name: string, value?: string): void {
    name = toUSVString(name);
    const match = value === undefined ? null : toUSVString(value);
    for (let i = this.#list.length - 1; i >= 0; i--) {
      if (this.#list[i][0] === name && (match === null || this.#list[i][1] === match))
        ArrayPrototypeSplice(this.#list, i, 1);
    }
    this.#update();
  }
  get(name: string): string | null {
    name = toUSVString(name);
    for (const pair of this.#list) if (pair[0] === name) return pair[1];
    return null;
  }
  getAll(name: string): string[] {
    name = toUSVString(name);
    const out: string[] = [];
    for (const pair of this.#list) if (pair[0] === name) append(out, pair[1]);
    return out;
  }
  has(name: string, value?: string): boolean {
    name = toUSVString(name);
    const match = value === undefined ? null : toUSVString(value);
    for (const pair of this.#list) if (pair[0] === name && (match === null || pair[1] === match)) return true;
    return false;
  }
  set(name: string, value: string): void {
    name = toUSVString(name);
    value = toUSVString(value);
    let found = false;
    for (let i = 0; i < this.#list.length; i++) {
      if (this.#list[i][0] !== name) continue;
      if (found) ArrayPrototypeSplice(this.#list, i--, 1);
      else {
        this.#list[i][1] = value;
        found = true;
      }
    }
    if (!found) append(this.#list, [name, value]);
    this.#update();
  }
  sort(): void {
    // stable sort by UTF-16 code units of the names
    const list = this.#list;
    for (let i = 1; i < list.length; i++) {
      const item = list[i];
      let j = i - 1;
      while (j >= 0 && list[j][0] > item[0]) {
        list[j + 1] = list[j];
        j--;
      }
      list[j + 1] = item;
    }
    this.#update();
  }
  forEach(callback: (value: string, name: string, params: URLSearchParams) => void, thisArg?: unknown): void {
    if (typeof callback !== 'function')
      throw new SafeTypeError(
        "Failed to execute 'forEach' on " + "'URLSearchParams': parameter 1 is not of type 'Function'.",
      );
    for (let i = 0; i < this.#list.length; i++) callback.call(thisArg, this.#list[i][1], this.#list[i][0], this);
  }
  *entries(): IterableIterator<[string, string]> {
    for (let i = 0; i < this.#list.length; i++) yield [this.#list[i][0], this.#list[i][1]];
  }
  *keys(): IterableIterator<string> {
    for (let i = 0; i < this.#list.length; i++) yield this.#list[i][0];
  }
  *values(): IterableIterator<string> {
    for (let i = 0; i < this.#list.length; i++) yield this.#list[i][1];
  }
  [Symbol.iterator]() {
    return this.entries();
  }
  toString(): string {
    return serializeUrlencoded(this.#list);
  }
  static {
    attach = (params, onUpdate) => {
      params.#onUpdate = onUpdate;
    };
    reset = (params, query) => {
      params.#list = parseUrlencoded(query);
    };
  }
}
Object.defineProperty(URLSearchParams.prototype, Symbol.toStringTag, { value: 'URLSearchParams', configurable: true });

export function attachSearchParams(params: URLSearchParams, onUpdate: (serialized: string) => void): void {
  attach(params, onUpdate);
}
export function resetSearchParams(params: URLSearchParams, query: string): void {
  reset(params, query);
}
