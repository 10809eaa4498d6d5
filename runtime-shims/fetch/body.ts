// The body of a Request or Response (Fetch Standard "body mixin"). A body stays in the form it
// was given (string, bytes, a host-side stream...) until someone asks for it in another form,
// so `new Response('hi')` reaches the host as a string without ever building a ReadableStream.
import { utf8Encode, utf8Decode } from '../encoding/utf8';
import { Blob, blobBytes } from './blob';
import { FormData, serializeMultipart, parseFormData } from './form-data';
import { URLSearchParams } from '../url/search-params';
import { isDisturbed, isReadableStream } from '../streams/polyfill';
import { bytesStream } from '../streams/bytes';
import { hostSourceStream, readAllHost, cancelHostSource } from '../streams/host-source';
import { registerSink } from '../streams/sink';
import type { HostBody } from '../../server/bridge/ops';
import {
  SafeTypeError,
  SafeUint8Array,
  bufferSourceBytes,
  isBufferSource,
  concatBytes,
  append,
  JSONParse,
  PromiseReject,
  TypedArrayPrototypeSlice,
  ReflectOwnKeys,
  ObjectDefineProperty,
  ObjectGetOwnPropertyDescriptor,
} from '../internal/primordials';

/** a host-side byte source (incoming request body, fetch response body) */
export interface HostSource {
  hostSource: number;
}
export type Source = null | string | Uint8Array | ReadableStream<Uint8Array> | HostSource;

export class BodyState {
  source: Source;
  used = false;
  constructor(source: Source) {
    this.source = source;
  }
}

/** Fetch "extract a body": the source and the Content-Type it implies */
export function extractBody(init: unknown): { source: Source; type: string | null } {
  if (init === null || init === undefined) return { source: null, type: null };
  if (typeof init === 'string') return { source: init, type: 'text/plain;charset=UTF-8' };
  if (isBufferSource(init)) return { source: bufferSourceBytes(init), type: null };
  if (init instanceof Blob) return { source: TypedArrayPrototypeSlice(blobBytes(init)), type: init.type || null };
  if (init instanceof URLSearchParams) return { source: init.toString(), type: 'application/x-www-form-urlencoded;charset=UTF-8' };
  if (init instanceof FormData) {
    const { bytes, boundary } = serializeMultipart(init);
    return { source: bytes, type: `multipart/form-data; boundary=${boundary}` };
  }
  if (typeof init === 'object' && isReadableStream(init)) {
    if (init.locked || isDisturbed(init)) throw new SafeTypeError('The body stream is locked or has already been read');
    return { source: init as ReadableStream<Uint8Array>, type: null };
  }
  // anything else is converted to a string, as WebIDL does for the USVString branch
  return { source: String(init), type: 'text/plain;charset=UTF-8' };
}

export function hasBody(state: BodyState): boolean {
  return state.source !== null;
}

/** the body getter: converts the source to a ReadableStream (once) and returns it */
export function bodyStream(state: BodyState): ReadableStream<Uint8Array> | null {
  const source = state.source;
  if (source === null) return null;
  if (state.used && !isReadableStream(source)) {
    // consumed (text(), json()...) before anyone asked for the stream: Fetch's consumer holds a
    // reader on it until the end, so the stream it exposes is locked and disturbed; the bytes
    // went to the consumer, so it is an empty one
    const stream = bytesStream(new SafeUint8Array(0));
    stream.getReader().cancel().catch(() => {});
    state.source = stream;
    return stream;
  }
  if (typeof source === 'string') state.source = bytesStream(utf8Encode(source));
  else if (source instanceof SafeUint8Array) state.source = bytesStream(source);
  else if (!isReadableStream(source)) state.source = hostSourceStream((source as HostSource).hostSource);
  return state.source as ReadableStream<Uint8Array>;
}

export function bodyUsed(state: BodyState): boolean {
  const source = state.source;
  // Fetch: "body is non-null and its stream is disturbed": a null body is never used
  if (source === null) return false;
  if (state.used) return true;
  return source !== null && typeof source === 'object' && !(source instanceof SafeUint8Array) && !('hostSource' in source) && isDisturbed(source as ReadableStream);
}

async function readAllStream(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!(value instanceof SafeUint8Array)) throw new SafeTypeError('The body stream produced a chunk that is not a Uint8Array');
    append(chunks, value);
    total += value.length;
  }
  return chunks.length === 0 ? new SafeUint8Array(0) : concatBytes(chunks, total);
}

function takeSource(state: BodyState): Source {
  if (bodyUsed(state)) throw new SafeTypeError('Body has already been used. It can be read only once.');
  const source = state.source;
  if (source === null) return null; // reading a null body reads nothing and disturbs nothing
  if (typeof source === 'object' && isReadableStream(source) && source.locked) {
    throw new SafeTypeError('The body stream is locked');
  }
  state.used = true;
  return source;
}

/** consumes the body into bytes (the shared step of text(), json(), arrayBuffer()...) */
export function consumeBytes(state: BodyState): Promise<Uint8Array> {
  let source: Source;
  try {
    source = takeSource(state);
  } catch (error) {
    return PromiseReject(error);
  }
  return readSource(source);
}

async function readSource(source: Source): Promise<Uint8Array> {
  if (source === null) return new SafeUint8Array(0);
  if (typeof source === 'string') return utf8Encode(source);
  if (source instanceof SafeUint8Array) return source;
  // `return await`: returning a promise from an async function resolves through a lookup of
  // `.then`, which tenant code may have replaced; await does not look it up
  if ('hostSource' in (source as object)) return await readAllHost((source as HostSource).hostSource);
  return await readAllStream(source as ReadableStream<Uint8Array>);
}

export async function consumeText(state: BodyState): Promise<string> {
  if (!bodyUsed(state) && typeof state.source === 'string') {
    state.used = true;
    return state.source;
  }
  return utf8Decode(await consumeBytes(state));
}

export async function consumeJSON(state: BodyState): Promise<unknown> {
  return JSONParse(await consumeText(state));
}

export async function consumeArrayBuffer(state: BodyState): Promise<ArrayBuffer> {
  const bytes = await consumeBytes(state);
  return (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : TypedArrayPrototypeSlice(bytes).buffer) as ArrayBuffer;
}

export async function consumeBlob(state: BodyState, type: string | null): Promise<Blob> {
  return new Blob([await consumeBytes(state)], { type: type ?? '' });
}

export async function consumeFormData(state: BodyState, type: string | null): Promise<FormData> {
  return parseFormData(await consumeBytes(state), type);
}

/** The members the Fetch Standard's body mixin gives Request and Response. */
export interface Body {
  readonly body: ReadableStream<Uint8Array> | null;
  readonly bodyUsed: boolean;
  arrayBuffer(): Promise<ArrayBuffer>;
  bytes(): Promise<Uint8Array>;
  text(): Promise<string>;
  json(): Promise<any>;
  blob(): Promise<Blob>;
  formData(): Promise<FormData>;
}

/**
 * Defines the body mixin on `target`'s prototype, written once for Request and Response. Each
 * class gets its own functions, which reach the body through `bodyOf` and the Content-Type
 * through `contentTypeOf`: both read the class's private state, so a `this` of another class
 * throws a TypeError as a brand check should.
 */
export function mixinBody<T extends object>(
  target: { prototype: T },
  bodyOf: (self: T) => BodyState,
  contentTypeOf: (self: T) => string | null,
): void {
  class BodyMixin implements Body {
    get body(): ReadableStream<Uint8Array> | null { return bodyStream(bodyOf(this as unknown as T)); }
    get bodyUsed(): boolean { return bodyUsed(bodyOf(this as unknown as T)); }
    arrayBuffer(): Promise<ArrayBuffer> { return consumeArrayBuffer(bodyOf(this as unknown as T)); }
    bytes(): Promise<Uint8Array> { return consumeBytes(bodyOf(this as unknown as T)); }
    text(): Promise<string> { return consumeText(bodyOf(this as unknown as T)); }
    json(): Promise<any> { return consumeJSON(bodyOf(this as unknown as T)); }
    blob(): Promise<Blob> { return consumeBlob(bodyOf(this as unknown as T), contentTypeOf(this as unknown as T)); }
    formData(): Promise<FormData> { return consumeFormData(bodyOf(this as unknown as T), contentTypeOf(this as unknown as T)); }
  }
  const members = BodyMixin.prototype;
  for (const key of ReflectOwnKeys(members)) {
    if (key !== 'constructor') ObjectDefineProperty(target.prototype, key, ObjectGetOwnPropertyDescriptor(members, key)!);
  }
}

/** clone(): a second body with the same content (streams are teed) */
export function cloneBody(state: BodyState): BodyState {
  if (bodyUsed(state)) throw new SafeTypeError('Cannot clone a body that has already been used');
  const source = state.source;
  if (source === null || typeof source === 'string' || source instanceof SafeUint8Array) return new BodyState(source);
  const stream = bodyStream(state)!;
  const [a, b] = stream.tee();
  state.source = a;
  return new BodyState(b);
}

/**
 * What crosses the bridge to the host for a body (server/bridge/ops.ts HostBody): null, a
 * string, bytes, a sink id the host pulls, or `{ source }`: a host-side body passed through
 * untouched (`fetch(url, { body: request.body })`, `new Response(upstream.body)`), which the host
 * then pipes itself without a round trip through the isolate per chunk.
 */
export function bodyForHost(state: BodyState): HostBody {
  const source = takeSource(state);
  if (source === null || typeof source === 'string' || source instanceof SafeUint8Array) return source;
  if ('hostSource' in (source as object)) return { source: (source as HostSource).hostSource };
  return registerSink(source as ReadableStream<Uint8Array>);
}

/** drop a body nobody will read (a host source is cancelled so the host can release it) */
export function discardBody(state: BodyState): void {
  const source = state.source;
  if (source !== null && typeof source === 'object' && 'hostSource' in source && !state.used) {
    state.used = true;
    cancelHostSource((source as HostSource).hostSource);
  }
}

