// createHash / createHmac of node:crypto on @noble/hashes (audited, dependency-free, pure JS):
// the hashing runs in the tenant's isolate, so its CPU is the tenant's like any other code.
import { Buffer } from './buffer';

declare const require: (id: string) => any;

type Hasher = ((msg: Uint8Array) => Uint8Array) & { create(): unknown };

// each family of hashes is evaluated the first time one of its algorithms is asked for: importing
// node:crypto for an HMAC-SHA-256 does not build the SHA-3 or MD5 tables
const legacy = () => require('@noble/hashes/legacy.js');
const sha2 = () => require('@noble/hashes/sha2.js');
const sha3 = () => require('@noble/hashes/sha3.js');
const loaders: Record<string, () => Hasher> = {
  md5: () => legacy().md5,
  sha1: () => legacy().sha1,
  ripemd160: () => legacy().ripemd160,
  rmd160: () => legacy().ripemd160,
  sha224: () => sha2().sha224,
  sha256: () => sha2().sha256,
  sha384: () => sha2().sha384,
  sha512: () => sha2().sha512,
  'sha512-224': () => sha2().sha512_224,
  'sha512-256': () => sha2().sha512_256,
  'sha3-224': () => sha3().sha3_224,
  'sha3-256': () => sha3().sha3_256,
  'sha3-384': () => sha3().sha3_384,
  'sha3-512': () => sha3().sha3_512,
};
const hmac = () => require('@noble/hashes/hmac.js').hmac;

export function getHashes(): string[] {
  return Object.keys(loaders);
}

/** Node's names: case-insensitive, 'sha-256', 'RSA-SHA256' and 'sha2-256' all mean sha256 */
export function hasherFor(algorithm: unknown): Hasher {
  if (typeof algorithm !== 'string') throw new TypeError('The "algorithm" argument must be of type string');
  let name = algorithm.toLowerCase().replace(/^rsa-/, '');
  if (/^sha-?2?-?(224|256|384|512)$/.test(name)) name = `sha${name.replace(/\D/g, '').slice(-3)}`;
  else if (name === 'sha-1') name = 'sha1';
  const hasher = Object.hasOwn(loaders, name) ? loaders[name]!() : undefined;
  if (!hasher)
    throw Object.assign(new Error(`Digest method not supported: ${algorithm}`), { code: 'ERR_CRYPTO_INVALID_DIGEST' });
  return hasher;
}

export function toBytes(data: unknown, encoding?: string): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, encoding ?? 'utf8');
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError('The "data" argument must be of type string or an instance of Buffer, TypedArray, or DataView');
}

function output(bytes: Uint8Array, encoding?: string): any {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return encoding && encoding !== 'buffer' ? buffer.toString(encoding) : buffer;
}

interface Engine {
  update(bytes: Uint8Array): unknown;
  digest(): Uint8Array;
  clone(): Engine;
}

class Digest {
  #engine: Engine;
  #done = false;
  constructor(engine: Engine) {
    this.#engine = engine;
  }
  update(data: unknown, inputEncoding?: string): this {
    if (this.#done) throw Object.assign(new Error('Digest already called'), { code: 'ERR_CRYPTO_HASH_FINALIZED' });
    this.#engine.update(toBytes(data, inputEncoding));
    return this;
  }
  digest(encoding?: string): any {
    if (this.#done) throw Object.assign(new Error('Digest already called'), { code: 'ERR_CRYPTO_HASH_FINALIZED' });
    this.#done = true;
    return output(this.#engine.digest(), encoding);
  }
  protected cloneEngine(): Engine {
    if (this.#done) throw Object.assign(new Error('Digest already called'), { code: 'ERR_CRYPTO_HASH_FINALIZED' });
    return this.#engine.clone();
  }
}

export class Hash extends Digest {
  constructor(algorithm: string, engine?: Engine) {
    super(engine ?? (hasherFor(algorithm).create() as unknown as Engine));
  }
  copy(): Hash {
    return new Hash('', this.cloneEngine());
  }
}

export class Hmac extends Digest {
  constructor(algorithm: string, key: unknown) {
    super(hmac().create(hasherFor(algorithm) as never, keyBytes(key)) as unknown as Engine);
  }
}

export function keyBytes(key: unknown): Uint8Array {
  if (key && typeof key === 'object' && 'export' in key && typeof (key as { export: unknown }).export === 'function') {
    return toBytes((key as { export(): unknown }).export());
  }
  return toBytes(key);
}

export function createHash(algorithm: string): Hash {
  return new Hash(algorithm);
}

export function createHmac(algorithm: string, key: unknown): Hmac {
  return new Hmac(algorithm, key);
}

/** Node 21's one-shot crypto.hash(algorithm, data, outputEncoding = 'hex') */
export function hash(algorithm: string, data: unknown, outputEncoding = 'hex'): any {
  return output(hasherFor(algorithm)(toBytes(data)), outputEncoding);
}
