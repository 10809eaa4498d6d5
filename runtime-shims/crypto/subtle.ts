// SubtleCrypto and CryptoKey, delegated to the host's WebCrypto. A CryptoKey in the isolate is a
// handle: the key material stays on the host (a non-extractable key can never be read by tenant
// code, even with every trick it knows), and the host drops the sandbox's keys with it.
import { hostAsync } from '../internal/bridge';

import { SafeTypeError, ArrayBufferIsView, SafeArrayBuffer, bufferSourceBytes, ObjectKeys, ObjectFreeze, PromiseReject, ArrayIsArray, PromisePrototypeThen } from '../internal/primordials';

interface KeyDescriptor {
  handle: number;
  type: KeyType;
  extractable: boolean;
  algorithm: Record<string, unknown>;
  usages: KeyUsage[];
}

const illegal = Symbol('illegal');
let handleOf: (key: CryptoKey) => number;

export class CryptoKey {
  #d: KeyDescriptor;
  constructor(key: unknown, d: KeyDescriptor) {
    if (key !== illegal) throw new SafeTypeError('Illegal constructor');
    this.#d = d;
    ObjectFreeze(d.algorithm);
  }
  get type(): KeyType { return this.#d.type; }
  get extractable(): boolean { return this.#d.extractable; }
  get algorithm(): object { return this.#d.algorithm; }
  get usages(): KeyUsage[] { return [...this.#d.usages]; }
  static {
    handleOf = (key) => key.#d.handle;
  }
}
Object.defineProperty(CryptoKey.prototype, Symbol.toStringTag, { value: 'CryptoKey', configurable: true });

/** marks key handles and copies buffers so an algorithm dictionary can cross the bridge */
function encode(value: unknown, depth = 0): unknown {
  if (value instanceof CryptoKey) return { __isletKey: handleOf(value) };
  if (value instanceof SafeArrayBuffer || ArrayBufferIsView(value)) return bufferSourceBytes(value);
  if (depth < 4 && value !== null && typeof value === 'object' && !ArrayIsArray(value)) {
    const out: Record<string, unknown> = {};
    for (const key of ObjectKeys(value)) out[key] = encode((value as any)[key], depth + 1);
    // dictionary members may be inherited getters: read the well-known ones explicitly
    for (const key of ['name', 'hash', 'iv', 'additionalData', 'tagLength', 'length', 'namedCurve', 'salt', 'info', 'iterations', 'counter', 'label', 'public', 'modulusLength', 'publicExponent', 'saltLength']) {
      if (!(key in out) && (value as any)[key] !== undefined) out[key] = encode((value as any)[key], depth + 1);
    }
    return out;
  }
  return value;
}

function decode(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && 'handle' in (value as object) && 'usages' in (value as object)) {
    return new CryptoKey(illegal, value as KeyDescriptor);
  }
  if (value !== null && typeof value === 'object' && 'publicKey' in (value as object) && 'privateKey' in (value as object)) {
    const pair = value as { publicKey: KeyDescriptor; privateKey: KeyDescriptor };
    return { publicKey: new CryptoKey(illegal, pair.publicKey), privateKey: new CryptoKey(illegal, pair.privateKey) };
  }
  return value;
}

function call(method: string, args: unknown[]): Promise<any> {
  let encoded: unknown[];
  try {
    encoded = args.map((a) => encode(a));
  } catch (error) {
    return PromiseReject(error);
  }
  return PromisePrototypeThen(hostAsync('subtle', method, encoded).promise, decode);
}

function requireKey(key: unknown, method: string): void {
  if (!(key instanceof CryptoKey)) throw new SafeTypeError(`Failed to execute '${method}' on 'SubtleCrypto': parameter is not of type 'CryptoKey'.`);
}

export class SubtleCrypto {
  constructor(key?: unknown) {
    if (key !== illegal) throw new SafeTypeError('Illegal constructor');
  }
  digest(algorithm: AlgorithmIdentifier, data: BufferSource): Promise<ArrayBuffer> {
    return call('digest', [algorithm, data]);
  }
  /** Workers' constant-time comparison; inputs of different lengths are an error, as there */
  timingSafeEqual(a: BufferSource, b: BufferSource): boolean {
    const failed = "Failed to execute 'timingSafeEqual' on 'SubtleCrypto'";
    if (arguments.length < 2) throw new SafeTypeError(`${failed}: 2 arguments required.`);
    const x = bufferSourceBytes(a, false);
    const y = bufferSourceBytes(b, false);
    if (x.byteLength !== y.byteLength) throw new SafeTypeError(`${failed}: the two inputs have different lengths.`);
    let diff = 0;
    for (let i = 0; i < x.byteLength; i++) diff |= x[i] ^ y[i];
    return diff === 0;
  }
  encrypt(algorithm: unknown, key: CryptoKey, data: BufferSource): Promise<ArrayBuffer> {
    try { requireKey(key, 'encrypt'); } catch (e) { return PromiseReject(e); }
    return call('encrypt', [algorithm, key, data]);
  }
  decrypt(algorithm: unknown, key: CryptoKey, data: BufferSource): Promise<ArrayBuffer> {
    try { requireKey(key, 'decrypt'); } catch (e) { return PromiseReject(e); }
    return call('decrypt', [algorithm, key, data]);
  }
  sign(algorithm: unknown, key: CryptoKey, data: BufferSource): Promise<ArrayBuffer> {
    try { requireKey(key, 'sign'); } catch (e) { return PromiseReject(e); }
    return call('sign', [algorithm, key, data]);
  }
  verify(algorithm: unknown, key: CryptoKey, signature: BufferSource, data: BufferSource): Promise<boolean> {
    try { requireKey(key, 'verify'); } catch (e) { return PromiseReject(e); }
    return call('verify', [algorithm, key, signature, data]);
  }
  generateKey(algorithm: unknown, extractable: boolean, usages: KeyUsage[]): Promise<CryptoKey | CryptoKeyPair> {
    return call('generateKey', [algorithm, !!extractable, [...usages]]);
  }
  deriveBits(algorithm: unknown, key: CryptoKey, length?: number | null): Promise<ArrayBuffer> {
    try { requireKey(key, 'deriveBits'); } catch (e) { return PromiseReject(e); }
    return call('deriveBits', [algorithm, key, length ?? null]);
  }
  deriveKey(algorithm: unknown, key: CryptoKey, derived: unknown, extractable: boolean, usages: KeyUsage[]): Promise<CryptoKey> {
    try { requireKey(key, 'deriveKey'); } catch (e) { return PromiseReject(e); }
    return call('deriveKey', [algorithm, key, derived, !!extractable, [...usages]]);
  }
  importKey(format: KeyFormat, keyData: unknown, algorithm: unknown, extractable: boolean, usages: KeyUsage[]): Promise<CryptoKey> {
    return call('importKey', [String(format), keyData, algorithm, !!extractable, [...usages]]);
  }
  exportKey(format: KeyFormat, key: CryptoKey): Promise<ArrayBuffer | JsonWebKey> {
    try { requireKey(key, 'exportKey'); } catch (e) { return PromiseReject(e); }
    return call('exportKey', [String(format), key]);
  }
  wrapKey(format: KeyFormat, key: CryptoKey, wrappingKey: CryptoKey, algorithm: unknown): Promise<ArrayBuffer> {
    return call('wrapKey', [String(format), key, wrappingKey, algorithm]);
  }
  unwrapKey(format: KeyFormat, wrapped: BufferSource, unwrappingKey: CryptoKey, unwrapAlgorithm: unknown, unwrappedKeyAlgorithm: unknown, extractable: boolean, usages: KeyUsage[]): Promise<CryptoKey> {
    return call('unwrapKey', [String(format), wrapped, unwrappingKey, unwrapAlgorithm, unwrappedKeyAlgorithm, !!extractable, [...usages]]);
  }
}
Object.defineProperty(SubtleCrypto.prototype, Symbol.toStringTag, { value: 'SubtleCrypto', configurable: true });

export const subtle = new SubtleCrypto(illegal);
