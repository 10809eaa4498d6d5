// URL (URL Standard). Parsing and setters are delegated to Node's WHATWG URL through the bridge:
// a conformant parser needs IDNA and large Unicode tables that would cost every tenant context
// hundreds of kilobytes. The isolate keeps the parsed components and answers the getters itself.
import { host } from '../internal/bridge';
import { fastParse } from './fast-parse';
import { URLSearchParams, attachSearchParams, resetSearchParams, toUSVString } from './search-params';
import { SafeTypeError, StringPrototypeSlice, ObjectDefineProperty } from '../internal/primordials';

// component order as sent by the host
const HREF = 0,
  ORIGIN = 1,
  PROTOCOL = 2,
  USERNAME = 3,
  PASSWORD = 4,
  HOST = 5,
  HOSTNAME = 6,
  PORT = 7,
  PATHNAME = 8,
  SEARCH = 9,
  HASH = 10;
type Parts = string[];

function parse(input: string, base?: string): Parts | null {
  return (base === undefined ? fastParse(input) : null) ?? host('url', input, base);
}

export class URL {
  #parts: Parts;
  #query: URLSearchParams | null = null;

  constructor(url: unknown, base?: unknown) {
    if (arguments.length === 0)
      throw new SafeTypeError("Failed to construct 'URL': 1 argument " + 'required, but only 0 present.');
    const input = toUSVString(url);
    const baseString = base === undefined ? undefined : toUSVString(base);
    const parts = parse(input, baseString);
    if (!parts)
      throw new SafeTypeError(`Invalid URL: ${input}${baseString === undefined ? '' : ` (base ` + `${baseString})`}`);
    this.#parts = parts;
  }

  static canParse(url: unknown, base?: unknown): boolean {
    return parse(toUSVString(url), base === undefined ? undefined : toUSVString(base)) !== null;
  }
  static parse(url: unknown, base?: unknown): URL | null {
    try {
      return new URL(url, base);
    } catch {
      return null;
    }
  }
  static createObjectURL(): never {
    throw new SafeTypeError('URL.createObjectURL is not supported in islet (no blob: URL store)');
  }
  static revokeObjectURL(): void {}

  #set(name: string, value: unknown): void {
    const parts: Parts | null = host('urlSet', this.#parts[HREF], name, toUSVString(value));
    if (parts) {
      this.#parts = parts;
      if (this.#query && name !== 'search') resetSearchParams(this.#query, StringPrototypeSlice(parts[SEARCH], 1));
    }
  }

  get href() {
    return this.#parts[HREF];
  }
  set href(value: string) {
    const parts = parse(toUSVString(value));
    if (!parts) throw new SafeTypeError(`Invalid URL: ${value}`);
    this.#parts = parts;
    if (this.#query) resetSearchParams(this.#query, StringPrototypeSlice(parts[SEARCH], 1));
  }
  get origin() {
    return this.#parts[ORIGIN];
  }
  get protocol() {
    return this.#parts[PROTOCOL];
  }
  set protocol(v: string) {
    this.#set('protocol', v);
  }
  get username() {
    return this.#parts[USERNAME];
  }
  set username(v: string) {
    this.#set('username', v);
  }
  get password() {
    return this.#parts[PASSWORD];
  }
  set password(v: string) {
    this.#set('password', v);
  }
  get host() {
    return this.#parts[HOST];
  }
  set host(v: string) {
    this.#set('host', v);
  }
  get hostname() {
    return this.#parts[HOSTNAME];
  }
  set hostname(v: string) {
    this.#set('hostname', v);
  }
  get port() {
    return this.#parts[PORT];
  }
  set port(v: string) {
    this.#set('port', v);
  }
  get pathname() {
    return this.#parts[PATHNAME];
  }
  set pathname(v: string) {
    this.#set('pathname', v);
  }
  get search() {
    return this.#parts[SEARCH];
  }
  set search(v: string) {
    this.#set('search', v);
    if (this.#query) resetSearchParams(this.#query, StringPrototypeSlice(this.#parts[SEARCH], 1));
  }
  get hash() {
    return this.#parts[HASH];
  }
  set hash(v: string) {
    this.#set('hash', v);
  }
  get searchParams(): URLSearchParams {
    if (!this.#query) {
      this.#query = new URLSearchParams(StringPrototypeSlice(this.#parts[SEARCH], 1));
      attachSearchParams(this.#query, (serialized) => {
        const parts: Parts | null = host('urlSet', this.#parts[HREF], 'search', serialized);
        if (parts) this.#parts = parts;
      });
    }
    return this.#query;
  }
  toString(): string {
    return this.#parts[HREF];
  }
  toJSON(): string {
    return this.#parts[HREF];
  }
}
ObjectDefineProperty(URL.prototype, Symbol.toStringTag, { value: 'URL', configurable: true });
