// crypto.subtle for a sandbox: Node's WebCrypto, with keys kept on the host. The isolate holds
// numeric handles; this table maps them to CryptoKey objects for the sandbox's lifetime.
import { webcrypto } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
const MAX_KEYS = 10000;

export interface KeyDescriptor {
  handle: number;
  type: string;
  extractable: boolean;
  algorithm: unknown;
  usages: string[];
}

const methods = new Set(['digest', 'encrypt', 'decrypt', 'sign', 'verify', 'generateKey', 'deriveBits', 'deriveKey', 'importKey', 'exportKey', 'wrapKey', 'unwrapKey']);

export class KeyTable {
  #keys = new Map<number, CryptoKey>();
  #next = 1;

  #decode(value: unknown, depth = 0): unknown {
    if (value && typeof value === 'object' && !ArrayBuffer.isView(value) && !(value instanceof ArrayBuffer) && !Array.isArray(value)) {
      const handle = (value as { __isletKey?: unknown }).__isletKey;
      if (typeof handle === 'number') {
        const key = this.#keys.get(handle);
        if (!key) throw new TypeError('crypto.subtle: unknown CryptoKey');
        return key;
      }
      if (depth > 4) return value;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.#decode(v, depth + 1);
      return out;
    }
    return value;
  }

  #describe(key: CryptoKey): KeyDescriptor {
    if (this.#keys.size >= MAX_KEYS) throw new RangeError(`crypto.subtle: more than ${MAX_KEYS} keys in one isolate`);
    const handle = this.#next++;
    this.#keys.set(handle, key);
    return { handle, type: key.type, extractable: key.extractable, algorithm: structuredClone(key.algorithm), usages: [...key.usages] };
  }

  #encode(result: unknown): unknown {
    if (result instanceof (globalThis as unknown as { CryptoKey: new () => CryptoKey }).CryptoKey) return this.#describe(result as CryptoKey);
    if (result && typeof result === 'object' && 'privateKey' in result && 'publicKey' in result) {
      const pair = result as { publicKey: CryptoKey; privateKey: CryptoKey };
      return { publicKey: this.#describe(pair.publicKey), privateKey: this.#describe(pair.privateKey) };
    }
    return result;
  }

  async call(method: unknown, args: unknown): Promise<unknown> {
    if (typeof method !== 'string' || !methods.has(method) || !Array.isArray(args)) throw new TypeError(`crypto.subtle: unknown operation ${String(method)}`);
    const decoded = args.map((a) => this.#decode(a));
    const subtle = webcrypto.subtle as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    return this.#encode(await subtle[method](...decoded));
  }

  clear(): void {
    this.#keys.clear();
  }
}

/** [name, message] of a WebCrypto failure, for the isolate to rebuild as a DOMException */
export function subtleErrorParts(error: unknown): [string, string] {
  const e = error as Error;
  // Node 20 names one of them 'InvalidAccessException'; the standard says '...Error'
  const raw = String(e?.name ?? 'OperationError').replace(/Exception$/, 'Error');
  const name = raw === 'RangeError' ? 'TypeError' : raw === 'Error' ? 'OperationError' : raw;
  return [name, e?.message ?? String(error)];
}
