// MD5 for crypto.subtle.digest and DigestStream, computed in the isolate with @noble/hashes
// (Node's WebCrypto has no MD5, and Workers offers it for legacy protocols). Only this file's
// few kilobytes of the package are bundled, inside subtle's lazily evaluated module.
import { md5 } from '@noble/hashes/legacy.js';
import { StringPrototypeToUpperCase } from '../internal/primordials';

export function isMd5(algorithm: unknown): boolean {
  const name = typeof algorithm === 'string' ? algorithm : algorithm !== null && typeof algorithm === 'object' ? (algorithm as { name?: unknown }).name : undefined;
  return typeof name === 'string' && StringPrototypeToUpperCase(name) === 'MD5';
}

export function md5Digest(bytes: Uint8Array): ArrayBuffer {
  return md5(bytes).buffer as ArrayBuffer;
}
