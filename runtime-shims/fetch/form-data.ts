// FormData (XHR Standard) and its two wire forms: multipart/form-data (RFC 7578) written when a
// FormData is a body, and parsed (with application/x-www-form-urlencoded) by body.formData().
import { Blob, File, blobBytes } from './blob';
import { utf8Encode, utf8Decode } from '../encoding/utf8';
import { parseUrlencoded, toUSVString } from '../url/search-params';
import {
  SafeTypeError,
  append,
  ArrayPrototypeSplice,
  concatBytes,
  StringPrototypeIndexOf,
  StringPrototypeSlice,
  StringPrototypeToLowerCase,
  StringPrototypeTrim,
  StringPrototypeReplace,
  TypedArrayPrototypeSubarray,
} from '../internal/primordials';
import { host } from '../internal/bridge';

type Entry = [string, string | File];

function toEntryValue(value: unknown, filename?: unknown): string | File {
  if (value instanceof Blob) {
    if (value instanceof File && filename === undefined) return value;
    return new File([value], filename === undefined ? 'blob' : String(filename), { type: value.type });
  }
  return toUSVString(value);
}

let entriesOf: (fd: FormData) => Entry[];

export class FormData {
  #entries: Entry[] = [];
  constructor(form?: unknown) {
    if (form !== undefined)
      throw new SafeTypeError("Failed to construct 'FormData': there is no " + 'HTML form element in a worker');
  }
  append(name: string, value: unknown, filename?: string): void {
    append(this.#entries, [toUSVString(name), toEntryValue(value, filename)]);
  }
  delete(name: string): void {
    name = toUSVString(name);
    for (let i = this.#entries.length - 1; i >= 0; i--)
      if (this.#entries[i][0] === name) ArrayPrototypeSplice(this.#entries, i, 1);
  }
  get(name: string): string | File | null {
    name = toUSVString(name);
    for (const e of this.#entries) if (e[0] === name) return e[1];
    return null;
  }
  getAll(name: string): (string | File)[] {
    name = toUSVString(name);
    const out: (string | File)[] = [];
    for (const e of this.#entries) if (e[0] === name) append(out, e[1]);
    return out;
  }
  has(name: string): boolean {
    name = toUSVString(name);
    for (const e of this.#entries) if (e[0] === name) return true;
    return false;
  }
  set(name: string, value: unknown, filename?: string): void {
    name = toUSVString(name);
    const entry: Entry = [name, toEntryValue(value, filename)];
    let found = false;
    for (let i = 0; i < this.#entries.length; i++) {
      if (this.#entries[i][0] !== name) continue;
      if (found) ArrayPrototypeSplice(this.#entries, i--, 1);
      else {
        this.#entries[i] = entry;
        found = true;
      }
    }
    if (!found) append(this.#entries, entry);
  }
  forEach(callback: (value: string | File, name: string, fd: FormData) => void, thisArg?: unknown): void {
    for (const [n, v] of this.#entries) callback.call(thisArg, v, n, this);
  }
  *entries(): IterableIterator<[string, string | File]> {
    for (let i = 0; i < this.#entries.length; i++) yield [this.#entries[i][0], this.#entries[i][1]];
  }
  *keys(): IterableIterator<string> {
    for (let i = 0; i < this.#entries.length; i++) yield this.#entries[i][0];
  }
  *values(): IterableIterator<string | File> {
    for (let i = 0; i < this.#entries.length; i++) yield this.#entries[i][1];
  }
  [Symbol.iterator]() {
    return this.entries();
  }
  static {
    entriesOf = (fd) => fd.#entries;
  }
}
Object.defineProperty(FormData.prototype, Symbol.toStringTag, { value: 'FormData', configurable: true });

function escapeName(s: string): string {
  return StringPrototypeReplace(
    StringPrototypeReplace(StringPrototypeReplace(s, /\r\n|\r|\n/g, '\r\n'), /"/g, '%22'),
    /[\r\n]/g,
    (c) => (c === '\r' ? '%0D' : '%0A'),
  );
}

/** multipart/form-data serialization: the bytes and the boundary to put in Content-Type */
export function serializeMultipart(fd: FormData): { bytes: Uint8Array; boundary: string } {
  const random: Uint8Array = host('random', 12);
  let boundary = '----islet';
  for (let i = 0; i < random.length; i++) boundary += (random[i] & 15).toString(16) + (random[i] >> 4).toString(16);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const add = (b: Uint8Array) => {
    append(chunks, b);
    total += b.length;
  };
  for (const [name, value] of entriesOf(fd)) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${escapeName(name)}"`;
    if (typeof value === 'string') {
      add(utf8Encode(head + '\r\n\r\n'));
      add(utf8Encode(StringPrototypeReplace(value, /\r\n|\r|\n/g, '\r\n') + '\r\n'));
    } else {
      head +=
        `; filename="${escapeName(value.name)}"\r\nContent-Type: ` +
        `${value.type || 'application/octet-stream'}\r\n\r\n`;
      add(utf8Encode(head));
      add(blobBytes(value));
      add(utf8Encode('\r\n'));
    }
  }
  add(utf8Encode(`--${boundary}--\r\n`));
  return { bytes: concatBytes(chunks, total), boundary };
}

function indexOfBytes(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  outer: for (let i = from; i <= haystack.length - needle.length; i++) {
    if (haystack[i] !== first) continue;
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function headerParam(header: string, param: string): string | null {
  const re = new RegExp(`;\\s*${param}\\*?=(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, 'i');
  const m = re.exec(header);
  if (!m) return null;
  return m[1] !== undefined ? StringPrototypeReplace(m[1], /\\(.)/g, '$1') : m[2];
}

/** parses a body into FormData according to its Content-Type; throws TypeError when it cannot */
export function parseFormData(bytes: Uint8Array, contentType: string | null): FormData {
  const type = StringPrototypeToLowerCase(contentType ?? '');
  const fd = new FormData();
  if (StringPrototypeIndexOf(type, 'application/x-www-form-urlencoded') === 0) {
    for (const [n, v] of parseUrlencoded(utf8Decode(bytes))) fd.append(n, v);
    return fd;
  }
  if (StringPrototypeIndexOf(type, 'multipart/form-data') !== 0)
    throw new SafeTypeError(`Could not parse content as FormData: unsupported Content-Type "${contentType ?? ''}"`);
  const boundary = headerParam(contentType!, 'boundary');
  if (!boundary)
    throw new SafeTypeError('Could not parse content as FormData: multipart ' + 'Content-Type without a boundary');
  const delimiter = utf8Encode('--' + boundary);
  let pos = indexOfBytes(bytes, delimiter, 0);
  if (pos < 0) throw new SafeTypeError('Could not parse content as FormData: the boundary does not occur in the body');
  const crlfcrlf = utf8Encode('\r\n\r\n');
  const next = utf8Encode('\r\n--' + boundary);
  while (true) {
    pos += delimiter.length;
    if (bytes[pos] === 0x2d && bytes[pos + 1] === 0x2d) return fd; // closing delimiter
    if (bytes[pos] === 0x0d && bytes[pos + 1] === 0x0a) pos += 2;
    const headerEnd = indexOfBytes(bytes, crlfcrlf, pos);
    if (headerEnd < 0) throw new SafeTypeError('Could not parse content as FormData: a part has no end of headers');
    const headers = utf8Decode(TypedArrayPrototypeSubarray(bytes, pos, headerEnd));
    const bodyStart = headerEnd + 4;
    const bodyEnd = indexOfBytes(bytes, next, bodyStart);
    if (bodyEnd < 0)
      throw new SafeTypeError('Could not parse content as FormData: a part is not ' + 'terminated by the boundary');
    let disposition = '';
    let partType = '';
    for (const line of headers.split('\r\n')) {
      const colon = StringPrototypeIndexOf(line, ':');
      if (colon < 0) continue;
      const name = StringPrototypeToLowerCase(StringPrototypeTrim(StringPrototypeSlice(line, 0, colon)));
      const value = StringPrototypeTrim(StringPrototypeSlice(line, colon + 1));
      if (name === 'content-disposition') disposition = value;
      else if (name === 'content-type') partType = value;
    }
    const name = headerParam(disposition, 'name');
    if (name === null)
      throw new SafeTypeError('Could not parse content as FormData: a part has no ' + 'name in Content-Disposition');
    const filename = headerParam(disposition, 'filename');
    const body = TypedArrayPrototypeSubarray(bytes, bodyStart, bodyEnd);
    if (filename !== null)
      fd.append(name, new File([body], filename, { type: partType || 'application/octet-stream' }));
    else fd.append(name, utf8Decode(body));
    pos = bodyEnd + 2;
  }
}
