// MD5 in crypto.subtle.digest (Workers offers it for legacy protocols; Node's WebCrypto has none),
// computed in the isolate with @noble/hashes. Not part of the bootstrap: a built-in module
// (islet:md5) evaluated before the code of a deployment that mentions MD5 (server/tenants/
// builtins.ts); it puts a digest in front of SubtleCrypto's that answers MD5 and passes the rest on.
import { md5 } from '@noble/hashes/legacy.js';

const SubtleCrypto = (
  globalThis as { SubtleCrypto: { prototype: { digest(algorithm: unknown, data: unknown): Promise<ArrayBuffer> } } }
).SubtleCrypto;
const digest = SubtleCrypto.prototype.digest;

function isMd5(algorithm: unknown): boolean {
  const name =
    typeof algorithm === 'string'
      ? algorithm
      : algorithm !== null && typeof algorithm === 'object'
        ? (algorithm as { name?: unknown }).name
        : undefined;
  return typeof name === 'string' && name.toUpperCase() === 'MD5';
}

function bytesOf(data: unknown): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("Failed to execute 'digest' on 'SubtleCrypto': parameter 2 is not of type 'BufferSource'.");
}

Object.defineProperty(SubtleCrypto.prototype, 'digest', {
  value: function digestWithMd5(this: unknown, algorithm: unknown, data: unknown): Promise<ArrayBuffer> {
    if (!isMd5(algorithm)) return Reflect.apply(digest, this, [algorithm, data]);
    try {
      return Promise.resolve(md5(bytesOf(data)).buffer as ArrayBuffer);
    } catch (error) {
      return Promise.reject(error);
    }
  },
  writable: true,
  configurable: true,
  enumerable: false,
});
Object.defineProperty(SubtleCrypto.prototype.digest, 'name', { value: 'digest' });
