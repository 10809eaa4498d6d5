// crypto.subtle for a sandbox: Node's WebCrypto, with keys kept on the host. The isolate holds
// numeric handles; this table maps them to CryptoKey objects for the sandbox's lifetime.
//
// Every call is host work charged to the tenant (issue 16): its cost is bounded and estimated up
// front (./subtle-cost.ts), and refused at once when it cannot fit in what its request has left;
// it runs on the process-wide crypto pool (./work-pool.ts: libuv's threads, shared fairly between
// tenants), its time there counted as the request's CPU and cancelled with the request
// (./host-work.ts); the bytes it holds on the host, and every key the table keeps, are charged
// to the isolate's memory (./host-memory.ts).
import { KeyObject, webcrypto } from 'node:crypto';
import { SubtleRefusedError } from '../errors';
import type { HostMemory } from './host-memory';
import type { HostWork } from './host-work';
import type { Caller, HostOpHandlers } from './run';
import { refuseLongRsa, subtleCost } from './subtle-cost';
import { cryptoPool } from './work-pool';

type CryptoKey = webcrypto.CryptoKey;
const MAX_KEYS = 10000;
/** operations one isolate may have waiting or running; past it they fail at once (QuotaExceededError) */
const MAX_QUEUED = 32;

/** Node's CryptoKey class (a global since Node 17) */
const NodeCryptoKey = (globalThis as unknown as { CryptoKey: new () => CryptoKey }).CryptoKey;
const isCryptoKey = (value: unknown): value is CryptoKey => value instanceof NodeCryptoKey;

/** refuses a key whose every use costs too much: an RSA key past the limit, imported or unwrapped */
function refuseCostlyKey(value: unknown): void {
  if (isCryptoKey(value)) refuseLongRsa((value.algorithm as { modulusLength?: number }).modulusLength);
}

/** bytes the host holds for a key: its material and the objects around it */
function keyBytes(key: CryptoKey): number {
  const object = KeyObject.from(key);
  if (object.type === 'secret') return (object.symmetricKeySize ?? 0) + 256;
  const bits = object.asymmetricKeyDetails?.modulusLength ?? 521;
  return (object.type === 'private' ? 5 : 1) * Math.ceil(bits / 8) + 1024;
}

export interface KeyDescriptor {
  handle: number;
  type: string;
  extractable: boolean;
  algorithm: unknown;
  usages: string[];
}

const methods = new Set([
  'digest',
  'encrypt',
  'decrypt',
  'sign',
  'verify',
  'generateKey',
  'deriveBits',
  'deriveKey',
  'importKey',
  'exportKey',
  'wrapKey',
  'unwrapKey',
]);

export class KeyTable {
  #keys = new Map<number, CryptoKey>();
  #next = 1;
  /** operations of this isolate waiting or running */
  #queued = 0;
  readonly #work: HostWork;
  readonly #memory: HostMemory;

  constructor(work: HostWork, memory: HostMemory) {
    this.#work = work;
    this.#memory = memory;
  }

  #decode(value: unknown, depth = 0): unknown {
    if (
      value &&
      typeof value === 'object' &&
      !ArrayBuffer.isView(value) &&
      !(value instanceof ArrayBuffer) &&
      !Array.isArray(value)
    ) {
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

  /** keeps `keys` (one, or a pair), charged to the isolate, and describes them for it */
  #keep(keys: CryptoKey[]): KeyDescriptor[] {
    if (this.#keys.size + keys.length > MAX_KEYS) {
      throw new SubtleRefusedError('ISLET_SUBTLE_QUOTA', `crypto.subtle: more than ${MAX_KEYS} keys in one isolate`);
    }
    const bytes = keys.reduce((total, key) => total + keyBytes(key), 0);
    this.#memory.charge(bytes, `crypto.subtle: a ${keys[0].algorithm.name} key`);
    return keys.map((key) => {
      const handle = this.#next++;
      this.#keys.set(handle, key);
      return {
        handle,
        type: key.type,
        extractable: key.extractable,
        algorithm: structuredClone(key.algorithm),
        usages: [...key.usages],
      };
    });
  }

  #encode(result: unknown): unknown {
    if (isCryptoKey(result)) return this.#keep([result])[0];
    if (result && typeof result === 'object' && 'privateKey' in result && 'publicKey' in result) {
      const pair = result as { publicKey: CryptoKey; privateKey: CryptoKey };
      const [publicKey, privateKey] = this.#keep([pair.publicKey, pair.privateKey]);
      return { publicKey, privateKey };
    }
    return result;
  }

  async call(caller: Caller, method: unknown, args: unknown): Promise<unknown> {
    if (typeof method !== 'string' || !methods.has(method) || !Array.isArray(args))
      throw new TypeError(`crypto.subtle: unknown operation ${String(method)}`);
    const cost = subtleCost(method, args);
    const budget = this.#work.budgetMs(caller);
    if (cost.estimateMs > budget) {
      const need = Math.ceil(cost.estimateMs);
      const left = Math.max(0, Math.floor(budget));
      throw new SubtleRefusedError(
        'ISLET_SUBTLE_QUOTA',
        `crypto.subtle: ${method} (${cost.what}) needs about ${need} ms of CPU, more than the ${left} ms this request has left`,
      );
    }
    const decoded = args.map((a) => this.#decode(a));
    for (const value of decoded) refuseCostlyKey(value);
    const subtle = webcrypto.subtle as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    // a flood waits here, bounded per isolate, not in the pool
    if (this.#queued >= MAX_QUEUED)
      throw new SubtleRefusedError(
        'ISLET_SUBTLE_QUOTA',
        `crypto.subtle: more than ${MAX_QUEUED} operations waiting in this isolate`,
      );
    this.#memory.charge(cost.bytes, `crypto.subtle.${method}`);
    this.#queued++;
    let result: unknown;
    try {
      result = await this.#work.run(cryptoPool, caller, () => subtle[method]!(...decoded), cost.expectedMs);
    } finally {
      this.#queued--;
      this.#memory.release(cost.bytes);
    }
    if (method === 'importKey' || method === 'unwrapKey') refuseCostlyKey(result);
    return this.#encode(result);
  }

  /** the `subtle` op: one SubtleCrypto method, answered later with its (encoded) result */
  readonly ops: HostOpHandlers<'subtle'> = {
    subtle: (caller, op, method, args) => {
      this.call(caller, method, args).then(
        (result) => op.resolve(result),
        (error) => op.reject(subtleErrorParts(error)),
      );
    },
  };

  /** the sandbox is torn down: its keys go, and what they were charged */
  dispose(): void {
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
