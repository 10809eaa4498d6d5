// Headers (Fetch Standard). The list is kept as a flat array [name0, value0, name1, value1...]
// with lower-case names, the same shape the host sends and expects, so a request's headers
// cross the bridge once and are never reshaped on the hot path.
import {
  SafeTypeError,
  StringPrototypeToLowerCase,
  StringPrototypeCharCodeAt,
  StringPrototypeSlice,
  ArrayPrototypeSplice,
  ArrayIsArray,
  SymbolIterator,
  ReflectOwnKeys,
  ObjectGetOwnPropertyDescriptor,
  append,
  ArrayPrototypeSlice,
  ObjectDefineProperty,
} from '../internal/primordials';
import { defineIterators } from './headers-iterator';

export type Guard = 'none' | 'immutable' | 'request' | 'response';

const tokenChars = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") tokenChars[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) tokenChars[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) tokenChars[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) tokenChars[c] = 1;

export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = StringPrototypeCharCodeAt(s, i);
    if (c >= 128 || !tokenChars[c]) return false;
  }
  return true;
}

function isHttpWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** WebIDL ByteString: a string whose code units all fit in a byte */
function toByteString(value: unknown): string {
  const s = String(value);
  for (let i = 0; i < s.length; i++) {
    if (StringPrototypeCharCodeAt(s, i) > 0xff) throw new SafeTypeError(`"${s}" is not a ByteString`);
  }
  return s;
}

export function normalizeName(name: unknown): string {
  const s = String(name);
  if (!isToken(s)) throw new SafeTypeError(`Invalid header name: "${s}"`);
  return StringPrototypeToLowerCase(s);
}

export function normalizeValue(value: unknown, name: string): string {
  const s = String(value);
  let start = 0;
  let end = s.length;
  while (start < end && isHttpWhitespace(StringPrototypeCharCodeAt(s, start))) start++;
  while (end > start && isHttpWhitespace(StringPrototypeCharCodeAt(s, end - 1))) end--;
  const v = start === 0 && end === s.length ? s : StringPrototypeSlice(s, start, end);
  for (let i = 0; i < v.length; i++) {
    const c = StringPrototypeCharCodeAt(v, i);
    if (c === 0 || c === 0x0a || c === 0x0d || c > 0xff) throw new SafeTypeError(`Invalid value for header "${name}"`);
  }
  return v;
}

let getList: (h: Headers) => string[];
let setGuard: (h: Headers, guard: Guard) => void;
let adoptList: (h: Headers, list: string[], guard: Guard) => void;
let pairsOf: (h: Headers) => [string, string][];

export class Headers {
  #list: string[] = [];
  #guard: Guard = 'none';
  /** bumped by every change of the list, so the iteration view knows when to recompute */
  #version = 0;
  #view: [string, string][] = [];
  #viewVersion = -1;

  constructor(init?: unknown) {
    if (init === undefined) return;
    if (typeof init !== 'object' || init === null) {
      throw new SafeTypeError(
        "Failed to construct 'Headers': The provided value is not of type " +
          "'(record<ByteString, ByteString> or sequence<sequence<ByteString>>)'.",
      );
    }
    // WebIDL overload resolution reads @@iterator first; a Headers whose iterator nobody replaced
    // is copied directly (the brand check is a private-field test: no Proxy trap runs)
    const iterator = (init as any)[SymbolIterator];
    if (#list in init && iterator === entriesOfHeaders && !iteratorPatched()) {
      this.#list = ArrayPrototypeSlice(init.#list) as string[];
      return;
    }
    if (iterator !== undefined && iterator !== null) {
      if (typeof iterator !== 'function')
        throw new SafeTypeError("Failed to construct 'Headers': the init object's @@iterator is not callable");
      const pairs: unknown[][] = [];
      for (const pair of { [SymbolIterator]: () => iterator.call(init) } as unknown as Iterable<unknown>) {
        const p = ArrayIsArray(pair)
          ? pair
          : typeof pair === 'object' && pair !== null && SymbolIterator in pair
            ? [...(pair as Iterable<unknown>)]
            : null;
        if (p?.length !== 2)
          throw new SafeTypeError(
            "Failed to construct 'Headers': each header pair must be a sequence of exactly two items",
          );
        append(pairs, [toByteString(p[0]), toByteString(p[1])]);
      }
      for (const p of pairs) this.append(p[0] as string, p[1] as string);
    } else {
      // record<ByteString, ByteString>: every key and value converted before any is appended
      const record: string[] = [];
      for (const key of ReflectOwnKeys(init as object)) {
        const desc = ObjectGetOwnPropertyDescriptor(init, key);
        if (!desc?.enumerable) continue;
        if (typeof key === 'symbol')
          throw new SafeTypeError("Failed to construct 'Headers': symbol keys are not header names");
        append(record, toByteString(key));
        append(record, toByteString((init as any)[key]));
      }
      for (let i = 0; i < record.length; i += 2) this.append(record[i], record[i + 1]);
    }
  }

  #check(): void {
    if (this.#guard === 'immutable') throw new SafeTypeError('Headers are immutable');
  }

  append(name: string, value: string): void {
    const n = normalizeName(name);
    const v = normalizeValue(value, n);
    this.#check();
    this.#version++;
    append(this.#list, n);
    append(this.#list, v);
  }
  delete(name: string): void {
    const n = normalizeName(name);
    this.#check();
    this.#version++;
    const list = this.#list;
    for (let i = list.length - 2; i >= 0; i -= 2) if (list[i] === n) ArrayPrototypeSplice(list, i, 2);
  }
  get(name: string): string | null {
    const n = normalizeName(name);
    const list = this.#list;
    let out: string | null = null;
    for (let i = 0; i < list.length; i += 2) {
      if (list[i] === n) out = out === null ? list[i + 1] : out + ', ' + list[i + 1];
    }
    return out;
  }
  getSetCookie(): string[] {
    const out: string[] = [];
    const list = this.#list;
    for (let i = 0; i < list.length; i += 2) if (list[i] === 'set-cookie') append(out, list[i + 1]);
    return out;
  }
  has(name: string): boolean {
    const n = normalizeName(name);
    const list = this.#list;
    for (let i = 0; i < list.length; i += 2) if (list[i] === n) return true;
    return false;
  }
  set(name: string, value: string): void {
    const n = normalizeName(name);
    const v = normalizeValue(value, n);
    this.#check();
    this.#version++;
    const list = this.#list;
    let found = false;
    for (let i = 0; i < list.length; i += 2) {
      if (list[i] !== n) continue;
      if (found) {
        ArrayPrototypeSplice(list, i, 2);
        i -= 2;
      } else {
        list[i + 1] = v;
        found = true;
      }
    }
    if (!found) {
      append(list, n);
      append(list, v);
    }
  }

  /** the sorted-and-combined view that iteration exposes (Fetch "sort and combine") */
  #sorted(): [string, string][] {
    const list = this.#list;
    const names: string[] = [];
    for (let i = 0; i < list.length; i += 2) {
      let seen = false;
      for (let j = 0; j < names.length; j++)
        if (names[j] === list[i]) {
          seen = true;
          break;
        }
      if (!seen) append(names, list[i]);
    }
    // insertion sort: header lists are short and this stays independent of Array.prototype.sort
    for (let i = 1; i < names.length; i++) {
      const item = names[i];
      let j = i - 1;
      while (j >= 0 && names[j] > item) {
        names[j + 1] = names[j];
        j--;
      }
      names[j + 1] = item;
    }
    const out: [string, string][] = [];
    for (const name of names) {
      if (name === 'set-cookie') {
        for (let i = 0; i < list.length; i += 2) if (list[i] === name) append(out, [name, list[i + 1]]);
      } else append(out, [name, this.get(name)!]);
    }
    return out;
  }
  /** the sorted-and-combined pairs, recomputed only after a change (iteration asks at every step) */
  #pairs(): [string, string][] {
    if (this.#viewVersion !== this.#version) {
      this.#view = this.#sorted();
      this.#viewVersion = this.#version;
    }
    return this.#view;
  }

  static {
    getList = (h) => h.#list;
    setGuard = (h, guard) => {
      h.#guard = guard;
    };
    adoptList = (h, list, guard) => {
      h.#list = list;
      h.#guard = guard;
      h.#version++;
    };
    pairsOf = (h) => h.#pairs();
  }
}
const { entries: entriesOfHeaders, patched: iteratorPatched } = defineIterators(Headers, (h) => pairsOf(h as Headers));
ObjectDefineProperty(Headers.prototype, Symbol.toStringTag, { value: 'Headers', configurable: true });

/** the flat [name, value, ...] list, shared (not copied): callers must not modify it */
export function headerList(h: Headers): string[] {
  return getList(h);
}
export function guardHeaders(h: Headers, guard: Guard): void {
  setGuard(h, guard);
}
/** a Headers over a list from the host (already validated by Node's HTTP parser, names lower-case) */
export function headersFromList(list: string[], guard: Guard): Headers {
  const h = new Headers();
  adoptList(h, list, guard);
  return h;
}
/** the list as a plain copy for crossing the bridge */
export function copyHeaderList(h: Headers): string[] {
  return ArrayPrototypeSlice(getList(h)) as string[];
}
