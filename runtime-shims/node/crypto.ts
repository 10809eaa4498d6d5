// node:crypto: hashes and HMACs (crypto-hash.ts), key derivation (PBKDF2, scrypt, HKDF from
// @noble/hashes), randomness from the platform's CSPRNG (crypto.getRandomValues), and the Web
// Crypto API as `webcrypto`/`subtle`. Everything synchronous runs in the isolate on the tenant's
// CPU. Ciphers, signatures and key objects are not offered yet: they throw and point at
// crypto.subtle, which has them.
import { Buffer } from './buffer';

/** what node:crypto's functions return: a Buffer (a Uint8Array) */
type Bytes = Uint8Array;
import { createHash, createHmac, getHashes, hash, hasherFor, keyBytes, toBytes, Hash, Hmac } from './crypto-hash';

declare const require: (id: string) => any;
// key derivation is evaluated on first use (most importers only hash)
const pbkdf2Module = () => require('@noble/hashes/pbkdf2.js');
const scryptModule = () => require('@noble/hashes/scrypt.js');

export { createHash, createHmac, getHashes, hash, Hash, Hmac };

const platform = globalThis.crypto;
export const webcrypto = platform;
export const subtle = platform.subtle;
export const getRandomValues = <T extends ArrayBufferView>(array: T): T => platform.getRandomValues(array as never);
export const randomUUID = (): string => platform.randomUUID();

type Callback<T> = (error: Error | null, value?: T) => void;

function later<T>(callback: Callback<T>, work: () => T | Promise<T>): void {
  if (typeof callback !== 'function') throw new TypeError('The "callback" argument must be of type function');
  Promise.resolve()
    .then(work)
    .then(
      (value) => callback(null, value),
      (error) => callback(error),
    );
}

export function randomFillSync<T extends ArrayBufferView | ArrayBuffer>(buffer: T, offset = 0, size?: number): T {
  const view =
    buffer instanceof ArrayBuffer
      ? new Uint8Array(buffer)
      : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const end = size === undefined ? view.length : offset + size;
  if (offset < 0 || end > view.length || offset > end)
    throw new RangeError('The value of "offset" or "size" is out of range');
  for (let at = offset; at < end; at += 65536)
    platform.getRandomValues(view.subarray(at, Math.min(end, at + 65536)) as Uint8Array<ArrayBuffer>);
  return buffer;
}

export function randomFill<T extends ArrayBufferView | ArrayBuffer>(buffer: T, ...rest: unknown[]): void {
  const callback = rest.pop() as Callback<T>;
  later(callback, () => randomFillSync(buffer, rest[0] as number | undefined, rest[1] as number | undefined));
}

export function randomBytes(size: number, callback?: Callback<Bytes>): any {
  if (!Number.isInteger(size) || size < 0 || size > 2 ** 31 - 1)
    throw new RangeError(`The value of "size" is out of range. Received ${size}`);
  const bytes = randomFillSync(Buffer.alloc(size));
  if (callback === undefined) return bytes;
  later(callback, () => bytes);
}
export const pseudoRandomBytes = randomBytes;

export function randomInt(min: number, max?: number | Callback<number>, callback?: Callback<number>): any {
  if (typeof max !== 'number') {
    callback = max as Callback<number> | undefined;
    max = min;
    min = 0;
  }
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || max <= min || max - min > 2 ** 48) {
    throw new RangeError(`The range [${min}, ${max}) is not a valid safe integer range of at most 2^48`);
  }
  const range = max - min;
  // rejection sampling over 48 random bits: no modulo bias
  const limit = 2 ** 48 - (2 ** 48 % range);
  const words = new Uint16Array(3);
  let value: number;
  do {
    platform.getRandomValues(words);
    value = words[0]! * 2 ** 32 + words[1]! * 2 ** 16 + words[2]!;
  } while (value >= limit);
  const result = min + (value % range);
  if (callback === undefined) return result;
  later(callback, () => result);
}

export function timingSafeEqual(a: ArrayBufferView | ArrayBuffer, b: ArrayBufferView | ArrayBuffer): boolean {
  const x = toBytes(a);
  const y = toBytes(b);
  if (x.byteLength !== y.byteLength) {
    throw Object.assign(new RangeError('Input buffers must have the same byte length'), {
      code: 'ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH',
    });
  }
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
}

export function pbkdf2Sync(
  password: unknown,
  salt: unknown,
  iterations: number,
  keylen: number,
  digest: string,
): Bytes {
  return Buffer.from(
    pbkdf2Module().pbkdf2(hasherFor(digest) as never, keyBytes(password), keyBytes(salt), {
      c: iterations,
      dkLen: keylen,
    }),
  );
}

export function pbkdf2(
  password: unknown,
  salt: unknown,
  iterations: number,
  keylen: number,
  digest: string,
  callback: Callback<Bytes>,
): void {
  const hasher = hasherFor(digest);
  later(callback, async () =>
    Buffer.from(
      await pbkdf2Module().pbkdf2Async(hasher as never, keyBytes(password), keyBytes(salt), {
        c: iterations,
        dkLen: keylen,
      }),
    ),
  );
}

interface ScryptOptions {
  N?: number;
  r?: number;
  p?: number;
  cost?: number;
  blockSize?: number;
  parallelization?: number;
  maxmem?: number;
}

function scryptParams(keylen: number, options: ScryptOptions = {}) {
  // Node's defaults, including its 32 MiB memory cap (the allocation counts against the isolate's limit)
  return {
    N: options.N ?? options.cost ?? 16384,
    r: options.r ?? options.blockSize ?? 8,
    p: options.p ?? options.parallelization ?? 1,
    dkLen: keylen,
    maxmem: options.maxmem ?? 32 * 1024 * 1024,
  };
}

export function scryptSync(password: unknown, salt: unknown, keylen: number, options?: ScryptOptions): Bytes {
  return Buffer.from(scryptModule().scrypt(keyBytes(password), keyBytes(salt), scryptParams(keylen, options)));
}

export function scrypt(
  password: unknown,
  salt: unknown,
  keylen: number,
  options: ScryptOptions | Callback<Bytes>,
  callback?: Callback<Bytes>,
): void {
  if (typeof options === 'function') {
    callback = options;
    options = {};
  }
  const params = scryptParams(keylen, options);
  later(callback!, async () =>
    Buffer.from(await scryptModule().scryptAsync(keyBytes(password), keyBytes(salt), params)),
  );
}

export function hkdfSync(digest: string, ikm: unknown, salt: unknown, info: unknown, keylen: number): ArrayBuffer {
  const out: Uint8Array = require('@noble/hashes/hkdf.js').hkdf(
    hasherFor(digest) as never,
    keyBytes(ikm),
    keyBytes(salt),
    keyBytes(info),
    keylen,
  );
  return out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength) as ArrayBuffer;
}

export function hkdf(
  digest: string,
  ikm: unknown,
  salt: unknown,
  info: unknown,
  keylen: number,
  callback: Callback<ArrayBuffer>,
): void {
  later(callback, () => hkdfSync(digest, ikm, salt, info, keylen));
}

function notYet(name: string) {
  return () => {
    throw Object.assign(
      new Error(
        `crypto.${name}() is not available in islet yet: ` +
          'use crypto.subtle (Web Crypto), which offers ciphers, signatures and keys',
      ),
      {
        code: 'ERR_NOT_AVAILABLE_IN_ISLET',
      },
    );
  };
}

export const createCipheriv = notYet('createCipheriv');
export const createDecipheriv = notYet('createDecipheriv');
export const createSign = notYet('createSign');
export const createVerify = notYet('createVerify');
export const sign = notYet('sign');
export const verify = notYet('verify');
export const createPrivateKey = notYet('createPrivateKey');
export const createPublicKey = notYet('createPublicKey');
export const createSecretKey = notYet('createSecretKey');
export const generateKeyPair = notYet('generateKeyPair');
export const generateKeyPairSync = notYet('generateKeyPairSync');
export const generateKey = notYet('generateKey');
export const generateKeySync = notYet('generateKeySync');
export const publicEncrypt = notYet('publicEncrypt');
export const privateDecrypt = notYet('privateDecrypt');
export const createECDH = notYet('createECDH');
export const createDiffieHellman = notYet('createDiffieHellman');
export const getCiphers = (): string[] => [];
export const getCurves = (): string[] => [];
export const constants = {};

export default {
  createHash,
  createHmac,
  getHashes,
  hash,
  Hash,
  Hmac,
  webcrypto,
  subtle,
  getRandomValues,
  randomUUID,
  randomBytes,
  pseudoRandomBytes,
  randomFill,
  randomFillSync,
  randomInt,
  timingSafeEqual,
  pbkdf2,
  pbkdf2Sync,
  scrypt,
  scryptSync,
  hkdf,
  hkdfSync,
  createCipheriv,
  createDecipheriv,
  createSign,
  createVerify,
  sign,
  verify,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  generateKeyPair,
  generateKeyPairSync,
  generateKey,
  generateKeySync,
  publicEncrypt,
  privateDecrypt,
  createECDH,
  createDiffieHellman,
  getCiphers,
  getCurves,
  constants,
};
