// Blob and File (File API), backed by one Uint8Array held in the isolate.
import { utf8Encode, utf8Decode } from '../encoding/utf8';
import { SafeTypeError, SafeUint8Array, bufferSourceBytes, isBufferSource, concatBytes, append, MathMax, MathMin, TypedArrayPrototypeSlice, StringPrototypeToLowerCase, PromiseResolve, SymbolIterator } from '../internal/primordials';
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

export class Blob {
  #bytes: Uint8Array;
  #type: string;

  constructor(parts?: Iterable<unknown>, options?: { type?: string; endings?: string }) {
    const chunks: Uint8Array[] = [];
    let total = 0;
    if (parts !== undefined && parts !== null) {
      if (typeof parts !== 'object' || typeof (parts as any)[SymbolIterator] !== 'function') throw new SafeTypeError("Failed to construct 'Blob': The provided value cannot be converted to a sequence.");
      for (const part of parts) {
        const bytes = part instanceof Blob ? part.#bytes : isBufferSource(part) ? bufferSourceBytes(part) : utf8Encode(String(part));
        append(chunks, bytes);
        total += bytes.length;
      }
    }
    this.#bytes = chunks.length === 0 ? new SafeUint8Array(0) : concatBytes(chunks, total);
    this.#type = normalizeType(options?.type);
  }
  get size(): number { return this.#bytes.length; }
  get type(): string { return this.#type; }
  slice(start = 0, end = this.#bytes.length, contentType?: string): Blob {
    const size = this.#bytes.length;
    const from = start < 0 ? MathMax(size + start, 0) : MathMin(start, size);
    const to = end < 0 ? MathMax(size + end, 0) : MathMin(end, size);
    const blob = new Blob([], { type: contentType });
    blob.#bytes = TypedArrayPrototypeSlice(this.#bytes, from, MathMax(from, to));
    return blob;
  }
  text(): Promise<string> { return PromiseResolve(utf8Decode(this.#bytes)); }
  arrayBuffer(): Promise<ArrayBuffer> { return PromiseResolve(TypedArrayPrototypeSlice(this.#bytes).buffer as ArrayBuffer); }
  bytes(): Promise<Uint8Array> { return PromiseResolve(TypedArrayPrototypeSlice(this.#bytes)); }
  stream(): ReadableStream<Uint8Array> { return bytesStream(this.#bytes); }
  static {
    bytesOf = (blob) => blob.#bytes;
  }
}
Object.defineProperty(Blob.prototype, Symbol.toStringTag, { value: 'Blob', configurable: true });

export class File extends Blob {
  #name: string;
  #lastModified: number;
  constructor(parts: Iterable<unknown>, name: string, options?: { type?: string; lastModified?: number }) {
    if (arguments.length < 2) throw new SafeTypeError("Failed to construct 'File': 2 arguments required.");
    super(parts, options);
    this.#name = String(name);
    this.#lastModified = options?.lastModified === undefined ? Date.now() : Number(options.lastModified);
  }
  get name(): string { return this.#name; }
  get lastModified(): number { return this.#lastModified; }
}
Object.defineProperty(File.prototype, Symbol.toStringTag, { value: 'File', configurable: true });

/** the blob's bytes, shared: callers must not modify them */
export function blobBytes(blob: Blob): Uint8Array {
  return bytesOf(blob);
}
