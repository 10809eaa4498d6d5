// crypto.getRandomValues and crypto.randomUUID use the host's CSPRNG (node:crypto); crypto.subtle
// (lazy) is Node's WebCrypto behind the bridge: real, audited implementations of every algorithm
// rather than JavaScript re-implementations running inside each tenant.
import { host } from '../internal/bridge';
import { DOMException } from '../events/dom-exception';
import { SafeTypeError, ArrayBufferIsView, TypedArrayPrototypeSet, SafeUint8Array } from '../internal/primordials';
import { defineLazy } from '../internal/lazy';

declare const require: (id: string) => any;

const integerArrays = ['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'BigInt64Array', 'BigUint64Array'];
const integerConstructors = integerArrays.map((name) => (globalThis as any)[name]);

const illegal = Symbol('illegal');

export class Crypto {
  constructor(key?: unknown) {
    if (key !== illegal) throw new SafeTypeError('Illegal constructor');
  }
  getRandomValues<T extends ArrayBufferView | null>(array: T): T {
    if (!ArrayBufferIsView(array) || !integerConstructors.some((C) => array instanceof C)) {
      throw new DOMException("Failed to execute 'getRandomValues' on 'Crypto': The provided ArrayBufferView is not an integer array type.", 'TypeMismatchError');
    }
    const view = array as unknown as ArrayBufferView;
    if (view.byteLength > 65536) throw new DOMException(`Failed to execute 'getRandomValues' on 'Crypto': The ArrayBufferView's byte length (${view.byteLength}) exceeds the number of bytes of entropy available via this API (65536).`, 'QuotaExceededError');
    const bytes: Uint8Array = host('random', view.byteLength);
    TypedArrayPrototypeSet(new SafeUint8Array(view.buffer, view.byteOffset, view.byteLength), bytes, 0);
    return array;
  }
  randomUUID(): string {
    return host('uuid');
  }
}

export function createCrypto(): Crypto {
  const crypto = new Crypto(illegal);
  defineLazy(crypto, 'subtle', () => require('./subtle').subtle);

  return crypto;
}
