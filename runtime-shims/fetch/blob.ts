// Blob and File (File API), backed by one Uint8Array held in the isolate.
import { utf8Encode, utf8Decode } from '../encoding/utf8';
import {
  SafeTypeError,
  SafeUint8Array,
  bufferSourceBytes,
  isBufferSource,
  concatBytes,
  append,
  MathMax,
  MathMin,
  TypedArrayPrototypeSlice,
  StringPrototypeToLowerCase,
  PromiseResolve,
  SymbolIterator,
  ObjectDefineProperty,
  StringPrototypeReplace,
  NumberIsFinite,
  MathTrunc,
} from '../internal/primordials';
import { bytesStream } from '../streams/bytes';

let bytesOf: (blob: Blob) => Uint8Array;

function normalizeType(type: unknown): string {
  const s = type === undefined ? '' : String(type);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return '';
  }
  return StringPrototypeToLowerCase(s);
}

/** arguments a subclass constructor already converted (never visible to tenant code) */
class Prepared {
  constructor(
    readonly bytes: Uint8Array,
    readonly type: string,
  ) {}
}

function isObject(value: unknown): value is Record<string | symbol, unknown> {
  return (typeof value === 'object' && value !== null) || typeof value === 'function';
}

/** WebIDL `optional sequence<BlobPart>`: read once through @@iterator, each part converted as read */
function convertParts(parts: unknown, name: string): (Uint8Array | Blob | string)[] {
  const out: (Uint8Array | Blob | string)[] = [];
  if (parts === undefined) return out;
  const iterator = isObject(parts) ? parts[SymbolIterator] : undefined;
  if (typeof iterator !== 'function') {
    throw new SafeTypeError(`Failed to construct '${name}': The provided value cannot be converted to a sequence.`);
  }
  for (const part of { [SymbolIterator]: () => iterator.call(parts) } as unknown as Iterable<unknown>) {
    append(out, part instanceof Blob ? part : isBufferSource(part) ? bufferSourceBytes(part) : String(part));
  }
  return out;
}

/** WebIDL `optional BlobPropertyBag`: members read in lexicographic order (endings, then type) */
function convertOptions(options: unknown, name: string): { type: string; native: boolean } {
  if (options === undefined || options === null) return { type: '', native: false };
  if (!isObject(options)) {
    throw new SafeTypeError(`Failed to construct '${name}': The provided value is not of type '${name}PropertyBag'.`);
  }
  const endingsValue = options.endings;
  const endings = endingsValue === undefined ? 'transparent' : String(endingsValue);
  if (endings !== 'transparent' && endings !== 'native') {
    throw new SafeTypeError(`Failed to construct '${name}': '${endings}' is not a valid value for endings.`);
  }
  const typeValue = options.type;
  return { type: typeValue === undefined ? '' : String(typeValue), native: endings === 'native' };
}

/** File API "convert line endings to native": CR and CRLF become LF (islet runs on POSIX) */
function nativeLineEndings(s: string): string {
  return StringPrototypeReplace(s, /\r\n?/g, '\n');
}

let anyBlob = false;
/** whether this isolate ever made a Blob (structuredClone looks for Blobs in a value only then) */
export function blobsMade(): boolean {
  return anyBlob;
}

export class Blob {
  #bytes: Uint8Array;
  #type: string;

  constructor(parts?: Iterable<unknown>, options?: { type?: string; endings?: string }) {
    anyBlob = true;
    if (parts instanceof Prepared) {
      // File's constructor converted its arguments itself, in its own order
      this.#bytes = parts.bytes;
      this.#type = parts.type;
      return;
    }
    const converted = convertParts(parts, 'Blob');
    const { type, native } = convertOptions(options, 'Blob');
    this.#bytes = joinParts(converted, native);
    this.#type = normalizeType(type);
  }
  get size(): number {
    return this.#bytes.length;
  }
  get type(): string {
    return this.#type;
  }
  slice(start = 0, end = this.#bytes.length, contentType?: string): Blob {
    const size = this.#bytes.length;
    const from = start < 0 ? MathMax(size + start, 0) : MathMin(start, size);
    const to = end < 0 ? MathMax(size + end, 0) : MathMin(end, size);
    const blob = new Blob([], { type: contentType });
    blob.#bytes = TypedArrayPrototypeSlice(this.#bytes, from, MathMax(from, to));
    return blob;
  }
  text(): Promise<string> {
    return PromiseResolve(utf8Decode(this.#bytes));
  }
  arrayBuffer(): Promise<ArrayBuffer> {
    return PromiseResolve(TypedArrayPrototypeSlice(this.#bytes).buffer as ArrayBuffer);
  }
  bytes(): Promise<Uint8Array> {
    return PromiseResolve(TypedArrayPrototypeSlice(this.#bytes));
  }
  stream(): ReadableStream<Uint8Array> {
    return bytesStream(this.#bytes);
  }
  static {
    bytesOf = (blob) => blob.#bytes;
  }
}
// WebIDL: a constructor's length counts its required arguments only
ObjectDefineProperty(Blob, 'length', { value: 0, configurable: true });

function joinParts(parts: (Uint8Array | Blob | string)[], native: boolean): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (const part of parts) {
    const bytes =
      typeof part === 'string'
        ? utf8Encode(native ? nativeLineEndings(part) : part)
        : part instanceof Blob
          ? bytesOf(part)
          : part;
    append(chunks, bytes);
    total += bytes.length;
  }
  return chunks.length === 0 ? new SafeUint8Array(0) : concatBytes(chunks, total);
}
Object.defineProperty(Blob.prototype, Symbol.toStringTag, { value: 'Blob', configurable: true });

export class File extends Blob {
  #name: string;
  #lastModified: number;
  constructor(
    parts: Iterable<unknown>,
    name: string,
    options?: { type?: string; lastModified?: number; endings?: string },
  ) {
    if (arguments.length < 2) throw new SafeTypeError("Failed to construct 'File': 2 arguments required.");
    // WebIDL order: the parts, the name, then FilePropertyBag's members (BlobPropertyBag's
    // endings and type first, then lastModified)
    const converted = convertParts(parts, 'File');
    const fileName = String(name);
    const { type, native } = convertOptions(options, 'File');
    const lastModified = isObject(options) ? options.lastModified : undefined;
    super(new Prepared(joinParts(converted, native), normalizeType(type)) as unknown as Iterable<unknown>);
    this.#name = fileName;
    this.#lastModified = lastModified === undefined ? Date.now() : toLongLong(lastModified);
  }
  get name(): string {
    return this.#name;
  }
  get lastModified(): number {
    return this.#lastModified;
  }
}
Object.defineProperty(File.prototype, Symbol.toStringTag, { value: 'File', configurable: true });
ObjectDefineProperty(File, 'length', { value: 2, configurable: true });

/** the blob's bytes, shared: callers must not modify them */
/** WebIDL long long (no [EnforceRange]): NaN and infinities are 0, fractions truncated */
function toLongLong(value: unknown): number {
  const n = Number(value);
  if (!NumberIsFinite(n)) return 0;
  return MathTrunc(n) || 0;
}

export function blobBytes(blob: Blob): Uint8Array {
  return bytesOf(blob);
}
