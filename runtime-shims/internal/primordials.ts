// The built-ins the shims rely on, captured when the bootstrap runs (before any tenant code).
// A tenant that replaces Array.prototype.push, Promise.prototype.then, JSON or
// Object.defineProperty afterwards changes its own view of the world, not the request/response
// plumbing below it, which only calls these captured copies.
const { bind, call } = Function.prototype;
/** `uncurry(Proto.method)(self, ...args)` calls the original method whatever happens to the prototype */
export const uncurry: <A extends unknown[], R>(fn: (...args: A) => R) => (self: unknown, ...args: A) => R = bind.bind(
  call,
) as never;

export const ObjectDefineProperty = Object.defineProperty;
export const ObjectDefineProperties = Object.defineProperties;
export const ObjectFreeze = Object.freeze;
export const ObjectCreate = Object.create;
export const ObjectGetPrototypeOf = Object.getPrototypeOf;
export const ObjectSetPrototypeOf = Object.setPrototypeOf;
export const ObjectKeys = Object.keys;
export const ObjectEntries = Object.entries;
export const ObjectGetOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
export const ObjectPrototypeToString = uncurry(Object.prototype.toString);
export const ObjectPrototypeHasOwnProperty = uncurry(Object.prototype.hasOwnProperty);
export const ReflectApply = Reflect.apply;
export const ReflectConstruct = Reflect.construct;
export const ReflectDeleteProperty = Reflect.deleteProperty;
export const ReflectOwnKeys = Reflect.ownKeys;
export const ArrayIsArray = Array.isArray;
export const ArrayPrototypeSlice = uncurry(Array.prototype.slice);
export const ArrayPrototypeJoin = uncurry(Array.prototype.join);
export const ArrayPrototypeSort = uncurry(Array.prototype.sort);
export const ArrayPrototypeSplice = uncurry(Array.prototype.splice);
export const ArrayPrototypeIndexOf = uncurry(Array.prototype.indexOf);
export const ArrayPrototypeMap = uncurry(Array.prototype.map);
export const ArrayIteratorNext = uncurry(Object.getPrototypeOf([][Symbol.iterator]()).next);
/** %IteratorPrototype%: the prototype of every built-in iterator's prototype */
export const IteratorPrototype: object = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()));
export const ArrayPrototypeIterator = uncurry(Array.prototype[Symbol.iterator]);
export const StringPrototypeToLowerCase = uncurry(String.prototype.toLowerCase);
export const StringPrototypeToUpperCase = uncurry(String.prototype.toUpperCase);
export const StringPrototypeCharCodeAt = uncurry(String.prototype.charCodeAt);
export const StringPrototypeCodePointAt = uncurry(String.prototype.codePointAt);
export const StringPrototypeSlice = uncurry(String.prototype.slice);
export const StringPrototypeIndexOf = uncurry(String.prototype.indexOf);
export const StringPrototypeSplit = uncurry(String.prototype.split);
export const StringPrototypeTrim = uncurry(String.prototype.trim);
export const StringPrototypeReplace = uncurry(String.prototype.replace) as (
  self: string,
  pattern: string | RegExp,
  replacement: string | ((substring: string, ...args: any[]) => string),
) => string;
export const StringPrototypeStartsWith = uncurry(String.prototype.startsWith);
export const StringPrototypeIncludes = uncurry(String.prototype.includes);
export const StringPrototypePadStart = uncurry(String.prototype.padStart);
export const StringFromCharCode = String.fromCharCode;
export const StringFromCodePoint = String.fromCodePoint;
export const RegExpPrototypeTest = uncurry(RegExp.prototype.test);
export const RegExpPrototypeExec = uncurry(RegExp.prototype.exec);
export const JSONParse = JSON.parse;
export const JSONStringify = JSON.stringify;
export const MathMin = Math.min;
export const NumberIsNaN = Number.isNaN;
export const MathTrunc = Math.trunc;
export const MathMax = Math.max;
export const MathFloor = Math.floor;
export const NumberIsFinite = Number.isFinite;
export const NumberIsInteger = Number.isInteger;
export const SafePromise = Promise;
export const PromiseResolve = Promise.resolve.bind(Promise) as <T>(v: T | PromiseLike<T>) => Promise<T>;
export const PromiseReject = Promise.reject.bind(Promise) as (e: unknown) => Promise<never>;
export const PromisePrototypeThen = uncurry(Promise.prototype.then) as <T, R1 = T, R2 = never>(
  p: Promise<T>,
  onFulfilled?: ((v: T) => R1 | PromiseLike<R1>) | null,
  onRejected?: ((e: any) => R2 | PromiseLike<R2>) | null,
) => Promise<R1 | R2>;
export const SafeMap = Map;
export const MapPrototypeGet = uncurry(Map.prototype.get) as <K, V>(m: Map<K, V>, k: K) => V | undefined;
export const MapPrototypeSet = uncurry(Map.prototype.set) as <K, V>(m: Map<K, V>, k: K, v: V) => Map<K, V>;
export const MapPrototypeHas = uncurry(Map.prototype.has) as <K, V>(m: Map<K, V>, k: K) => boolean;
export const MapPrototypeDelete = uncurry(Map.prototype.delete) as <K, V>(m: Map<K, V>, k: K) => boolean;
export const SafeWeakMap = WeakMap;
export const WeakMapPrototypeGet = uncurry(WeakMap.prototype.get) as <K extends object, V>(
  m: WeakMap<K, V>,
  k: K,
) => V | undefined;
export const WeakMapPrototypeSet = uncurry(WeakMap.prototype.set) as <K extends object, V>(
  m: WeakMap<K, V>,
  k: K,
  v: V,
) => WeakMap<K, V>;
export const SafeUint8Array = Uint8Array;
export const SafeArrayBuffer = ArrayBuffer;
export const ArrayBufferIsView = ArrayBuffer.isView;
export const ArrayBufferPrototypeSlice = uncurry(ArrayBuffer.prototype.slice);
export const TypedArrayPrototypeSet = uncurry(Object.getPrototypeOf(Uint8Array.prototype).set) as (
  self: Uint8Array,
  src: ArrayLike<number>,
  offset?: number,
) => void;
export const TypedArrayPrototypeSubarray = uncurry(Uint8Array.prototype.subarray) as (
  self: Uint8Array,
  begin?: number,
  end?: number,
) => Uint8Array;
export const TypedArrayPrototypeSlice = uncurry(Uint8Array.prototype.slice) as (
  self: Uint8Array,
  begin?: number,
  end?: number,
) => Uint8Array;
const TypedArrayByteLength = ObjectGetOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), 'byteLength')!
  .get!;
export const TypedArrayPrototypeGetByteLength = (v: ArrayBufferView) =>
  ReflectApply(TypedArrayByteLength, v, []) as number;
export const SafeError = Error;
export const SafeTypeError = TypeError;
export const SafeRangeError = RangeError;
export const SafeSymbol = Symbol;
export const SymbolIterator = Symbol.iterator;
export const SymbolAsyncIterator = Symbol.asyncIterator;
export const SymbolToStringTag = Symbol.toStringTag;
export const globalObject = globalThis;

/** append without Array.prototype.push (which tenants may replace) */
export function append<T>(list: T[], value: T): void {
  list[list.length] = value;
}

/** Uint8Array copy of any BufferSource (ArrayBuffer, typed array, DataView); throws TypeError otherwise */
export function bufferSourceBytes(value: unknown, copy = true): Uint8Array {
  if (value instanceof SafeArrayBuffer) {
    return copy ? new SafeUint8Array(ArrayBufferPrototypeSlice(value, 0)) : new SafeUint8Array(value);
  }
  if (ArrayBufferIsView(value)) {
    const view = value as ArrayBufferView;
    const bytes = new SafeUint8Array(view.buffer, view.byteOffset, view.byteLength);
    return copy ? TypedArrayPrototypeSlice(bytes) : bytes;
  }
  throw new SafeTypeError('expected an ArrayBuffer, a typed array or a DataView');
}

export function isBufferSource(value: unknown): boolean {
  return value instanceof SafeArrayBuffer || ArrayBufferIsView(value);
}

export function concatBytes(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new SafeUint8Array(total);
  let offset = 0;
  for (let i = 0; i < chunks.length; i++) {
    TypedArrayPrototypeSet(out, chunks[i], offset);
    offset += chunks[i].byteLength;
  }
  return out;
}
