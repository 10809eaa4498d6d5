// node:util (and node:sys): browserify's `util` package (format, inspect, promisify, callbackify,
// inherits, deprecate, debuglog, types), with the Web codecs and the few later additions code for
// Workers relies on.
import utilPackage from 'util/';

const util = utilPackage as any;
const custom = Symbol.for('nodejs.util.inspect.custom');
util.inspect.custom ??= custom;

function isDeepStrictEqual(a: unknown, b: unknown, seen = new Map<object, unknown>()): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (seen.get(a) === b) return true;
  seen.set(a, b);
  if (a instanceof Date) return a.getTime() === (b as Date).getTime();
  if (a instanceof RegExp) return String(a) === String(b);
  if (ArrayBuffer.isView(a)) {
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const y = new Uint8Array(
      (b as ArrayBufferView).buffer,
      (b as ArrayBufferView).byteOffset,
      (b as ArrayBufferView).byteLength,
    );
    return x.length === y.length && x.every((v, i) => v === y[i]);
  }
  if (a instanceof Map) {
    const m = b as Map<unknown, unknown>;
    if (a.size !== m.size) return false;
    for (const [k, v] of a) if (!m.has(k) || !isDeepStrictEqual(v, m.get(k), seen)) return false;
    return true;
  }
  if (a instanceof Set) {
    const s = b as Set<unknown>;
    if (a.size !== s.size) return false;
    for (const v of a) if (!s.has(v)) return false;
    return true;
  }
  const ka = Reflect.ownKeys(a).filter((k) => Object.prototype.propertyIsEnumerable.call(a, k));
  const kb = Reflect.ownKeys(b).filter((k) => Object.prototype.propertyIsEnumerable.call(b, k));
  if (ka.length !== kb.length) return false;
  for (const key of ka) {
    if (!Object.prototype.propertyIsEnumerable.call(b, key)) return false;
    if (!isDeepStrictEqual((a as any)[key], (b as any)[key], seen)) return false;
  }
  return true;
}

/** ANSI escape sequences (ESC or CSI, then an OSC string ended by BEL, or a control sequence) */
const controlSequences = new RegExp(
  [
    '[\\u001B\\u009B][[\\]()#;?]*',
    '(?:(?:(?:(?:;[-a-zA-Z\\d/#&.:=?%@~_]+)*|[a-zA-Z\\d]+(?:;[-a-zA-Z\\d/#&.:=?%@~_]*)*)?\\u0007)',
    '|(?:(?:\\d{1,4}(?:;\\d{0,4})*)?[\\dA-PR-TZcf-ntqry=><~]))',
  ].join(''),
  'g',
);

util.isDeepStrictEqual ??= isDeepStrictEqual;
util.stripVTControlCharacters ??= (text: string) => String(text).replace(controlSequences, '');
util.toUSVString ??= (text: string) => String(text).toWellFormed();
util.TextEncoder = globalThis.TextEncoder;
util.TextDecoder = globalThis.TextDecoder;
util.aborted ??= (signal: AbortSignal) =>
  new Promise<void>((resolve) =>
    signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true }),
  );

export default util;
export const {
  format,
  inspect,
  promisify,
  callbackify,
  inherits,
  deprecate,
  debuglog,
  types,
  isArray,
  isBoolean,
  isNull,
  isNullOrUndefined,
  isNumber,
  isString,
  isSymbol,
  isUndefined,
  isRegExp,
  isObject,
  isDate,
  isError,
  isFunction,
  isPrimitive,
  isBuffer,
  stripVTControlCharacters,
  toUSVString,
  aborted,
} = util;
export { isDeepStrictEqual };
export const TextEncoder = globalThis.TextEncoder;
export const TextDecoder = globalThis.TextDecoder;
export const debug = util.debuglog;
