// node:buffer: the `buffer` package (feross), the Node Buffer API in pure JS over Uint8Array,
// used by browserify and most bundlers for years. islet adds what that package predates: the
// 'base64url' encoding, and the Web classes Node's module re-exports.
import * as bufferPackage from 'buffer';

const { Buffer: BufferClass, SlowBuffer, INSPECT_MAX_BYTES, kMaxLength } = bufferPackage as any;

const isBase64Url = (encoding: unknown) => typeof encoding === 'string' && encoding.toLowerCase() === 'base64url';
const toBase64Url = (base64: string) => base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

// base64-js decodes '-' and '_' already: decoding base64url is decoding base64
const from = BufferClass.from;
BufferClass.from = function (value: unknown, encodingOrOffset?: unknown, length?: unknown) {
  if (typeof value === 'string' && isBase64Url(encodingOrOffset)) encodingOrOffset = 'base64';
  return from.call(this, value, encodingOrOffset, length);
};
const byteLength = BufferClass.byteLength;
BufferClass.byteLength = function (value: unknown, encoding?: unknown) {
  return byteLength.call(this, value, isBase64Url(encoding) ? 'base64' : encoding);
};
const isEncoding = BufferClass.isEncoding;
BufferClass.isEncoding = (encoding: unknown) => isBase64Url(encoding) || isEncoding(encoding);
const bufferToString = BufferClass.prototype.toString;
BufferClass.prototype.toString = function (encoding?: unknown, start?: number, end?: number) {
  if (isBase64Url(encoding)) return toBase64Url(bufferToString.call(this, 'base64', start, end));
  return bufferToString.call(this, encoding, start, end);
};
BufferClass.prototype.toLocaleString = BufferClass.prototype.toString;
const write = BufferClass.prototype.write;
BufferClass.prototype.write = function (string: string, ...rest: unknown[]) {
  for (let i = 0; i < rest.length; i++) if (isBase64Url(rest[i])) rest[i] = 'base64';
  return write.call(this, string, ...rest);
};

export const Buffer = BufferClass;
export { SlowBuffer, INSPECT_MAX_BYTES, kMaxLength };
export const kStringMaxLength = (1 << 29) - 24;
export const constants = { MAX_LENGTH: kMaxLength, MAX_STRING_LENGTH: kStringMaxLength };
export const Blob = globalThis.Blob;
export const File = globalThis.File;
export const atob = globalThis.atob;
export const btoa = globalThis.btoa;

export function isUtf8(input: ArrayBufferView | ArrayBuffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(input);
    return true;
  } catch {
    return false;
  }
}

export function isAscii(input: ArrayBufferView | ArrayBuffer): boolean {
  const bytes =
    input instanceof ArrayBuffer
      ? new Uint8Array(input)
      : new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! > 0x7f) return false;
  return true;
}

export function transcode(): never {
  throw new Error('buffer.transcode() is not available in islet');
}

export default {
  Buffer,
  SlowBuffer,
  INSPECT_MAX_BYTES,
  kMaxLength,
  kStringMaxLength,
  constants,
  Blob,
  File,
  atob,
  btoa,
  isUtf8,
  isAscii,
  transcode,
};
