// crypto.subtle for a sandbox: Node's WebCrypto, with keys kept on the host. The isolate holds
// numeric handles; this table maps them to CryptoKey objects for the sandbox's lifetime.
import { webcrypto } from 'node:crypto';
import { SubtleRefusedError } from '../errors';
import type { HostOpHandlers } from './run';
import { slotLimiter } from './slots';

type CryptoKey = webcrypto.CryptoKey;
const MAX_KEYS = 10000;

// Node runs WebCrypto's slow operations on libuv's thread pool (4 threads by default), which the
// file system (the store), DNS (fetch) and zlib share, and that time is not the isolate's CPU
// time. Unbounded, one request could occupy the whole pool for minutes (PBKDF2 with 10^8
// iterations, a 16384-bit RSA key) and stall every tenant and the admin API. So: the costly
// parameters are capped (Workers caps PBKDF2 the same way), each isolate runs one operation at a
// time, and all isolates together at most MAX_RUNNING, leaving the rest of the pool to the server.
const MAX_PBKDF2_ITERATIONS = 100_000;
const MAX_RSA_BITS = 4096;
const MAX_RUNNING = 2;
/** operations one isolate may have waiting; past it they fail at once (QuotaExceededError) */
const MAX_QUEUED = 32;

/** refuses parameters whose cost has no useful bound */
function checkCost(method: string, args: unknown[]): void {
  const algorithm = args[0] as { name?: unknown; iterations?: unknown; modulusLength?: unknown } | undefined;
  if (!algorithm || typeof algorithm !== 'object') return;
  const name = String(algorithm.name ?? '').toUpperCase();
  if (
    (method === 'deriveBits' || method === 'deriveKey') &&
    name === 'PBKDF2' &&
    !(Number(algorithm.iterations) <= MAX_PBKDF2_ITERATIONS)
  ) {
    throw new SubtleRefusedError(
      'ISLET_SUBTLE_NOT_SUPPORTED',
      `crypto.subtle: PBKDF2 with more than ${MAX_PBKDF2_ITERATIONS} iterations is not supported`,
    );
  }
  if (method === 'generateKey' && name.startsWith('RSA') && !(Number(algorithm.modulusLength) <= MAX_RSA_BITS)) {
    throw new SubtleRefusedError('ISLET_SUBTLE_NOT_SUPPORTED', rsaTooLong);
  }
}

const rsaTooLong = `crypto.subtle: RSA keys longer than ${MAX_RSA_BITS} bits are not supported`;

/** Node's CryptoKey class (a global since Node 17) */
const NodeCryptoKey = (globalThis as unknown as { CryptoKey: new () => CryptoKey }).CryptoKey;
const isCryptoKey = (value: unknown): value is CryptoKey => value instanceof NodeCryptoKey;

/** refuses a key whose every use costs too much: an RSA key past MAX_RSA_BITS, imported or unwrapped */
function refuseCostlyKey(value: unknown): void {
  if (!isCryptoKey(value)) return;
  const bits = (value.algorithm as { modulusLength?: number }).modulusLength;
  if (typeof bits === 'number' && bits > MAX_RSA_BITS)
    throw new SubtleRefusedError('ISLET_SUBTLE_NOT_SUPPORTED', rsaTooLong);
}

/** slots of the thread pool WebCrypto may hold at once, across every isolate of the process */
const withSlot = slotLimiter(MAX_RUNNING);

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
  /** settles when this isolate's previous operation is over */
  #queue: Promise<void> = Promise.resolve();
  #queued = 0;

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

  #describe(key: CryptoKey): KeyDescriptor {
    if (this.#keys.size >= MAX_KEYS) throw new RangeError(`crypto.subtle: more than ${MAX_KEYS} keys in one isolate`);
    const handle = this.#next++;
    this.#keys.set(handle, key);
    return {
      handle,
      type: key.type,
      extractable: key.extractable,
      algorithm: structuredClone(key.algorithm),
      usages: [...key.usages],
    };
  }

  #encode(result: unknown): unknown {
    if (isCryptoKey(result)) return this.#describe(result);
    if (result && typeof result === 'object' && 'privateKey' in result && 'publicKey' in result) {
      const pair = result as { publicKey: CryptoKey; privateKey: CryptoKey };
      return { publicKey: this.#describe(pair.publicKey), privateKey: this.#describe(pair.privateKey) };
    }
    return result;
  }

  async call(method: unknown, args: unknown): Promise<unknown> {
    if (typeof method !== 'string' || !methods.has(method) || !Array.isArray(args))
      throw new TypeError(`crypto.subtle: unknown operation ${String(method)}`);
    checkCost(method, args);
    const decoded = args.map((a) => this.#decode(a));
    for (const value of decoded) refuseCostlyKey(value);
    const subtle = webcrypto.subtle as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    // one operation of this isolate at a time: a flood of them waits here, not in the thread pool
    if (this.#queued >= MAX_QUEUED)
      throw new SubtleRefusedError(
        'ISLET_SUBTLE_QUOTA',
        `crypto.subtle: more than ${MAX_QUEUED} operations waiting in this isolate`,
      );
    this.#queued++;
    const turn = this.#queue.then(() => withSlot(() => subtle[method]!(...decoded)));
    this.#queue = turn.then(
      () => undefined,
      () => undefined,
    );
    let result: unknown;
    try {
      result = await turn;
    } finally {
      this.#queued--;
    }
    if (method === 'importKey' || method === 'unwrapKey') refuseCostlyKey(result);
    return this.#encode(result);
  }

  clear(): void {
    this.#keys.clear();
  }

  /** the `subtle` op: one SubtleCrypto method, answered later with its (encoded) result */
  readonly ops: HostOpHandlers<'subtle'> = {
    subtle: (_caller, op, method, args) => {
      this.call(method, args).then(
        (result) => op.resolve(result),
        (error) => op.reject(subtleErrorParts(error)),
      );
    },
  };

  /** the sandbox is torn down */
  dispose(): void {
    this.clear();
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
