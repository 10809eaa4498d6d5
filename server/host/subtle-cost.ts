// What one crypto.subtle call costs the host, known before it runs, and the bounds islet puts on
// it. Node runs WebCrypto on libuv's thread pool, where a job cannot be interrupted once it
// started: whatever a call may cost must be bounded up front. So:
//
// - parameters whose cost has no useful bound are refused (NotSupportedError): PBKDF2 past
//   100,000 iterations (as Workers) or past 1,000,000 iteration-blocks (iterations times output
//   blocks: a 128 KiB output of 100,000 iterations is 409,600,000 of them, minutes of CPU), RSA
//   past 4096 bits, HMAC and raw keys past 64 KiB (an HMAC key of 2**31-8 bits is 256 MiB);
// - the CPU a call needs is estimated (PBKDF2 from this machine's measured speed, RSA key
//   generation and bulk data from low bounds), so a call that cannot fit in what its request has
//   left is refused at once (QuotaExceededError) rather than run and cut;
// - the bytes it holds on the host while it waits and runs (its inputs, its output) are counted,
//   to be charged to the isolate's memory;
// - what it should cost in the usual case is told to the pool: small calls may use its express
//   slot, and the CPU the pool used is shared among running jobs by it (./pool-meter.ts).
import { pbkdf2Sync } from 'node:crypto';
import { SubtleRefusedError } from '../errors';

export const MAX_PBKDF2_ITERATIONS = 100_000;
/** iterations x output blocks of one PBKDF2 derivation */
export const MAX_PBKDF2_WORK = 1_000_000;
export const MAX_RSA_BITS = 4096;
/** HMAC keys generated, and key material imported or unwrapped in any format */
export const MAX_KEY_BYTES = 64 * 1024;

/** a call's cost, for the pool and the request's budgets */
export interface SubtleCost {
  /** CPU it needs at least, ms (0: too little to matter): more than the request has left is refused */
  estimateMs: number;
  /** CPU it should take in the usual case, ms */
  expectedMs: number;
  /** bytes the host holds for it until it settles (its inputs and output) */
  bytes: number;
  /** what it is, for messages: "PBKDF2 of 100000 iterations x 4096 blocks" */
  what: string;
}

type Dict = Record<string, unknown>;
const dict = (value: unknown): Dict => (value && typeof value === 'object' ? (value as Dict) : {});
const nameOf = (algorithm: unknown): string =>
  String(typeof algorithm === 'string' ? algorithm : (dict(algorithm).name ?? '')).toUpperCase();

/** bytes of the hash's output, and of its block (HMAC's default key length) */
const hashes: Record<string, { out: number; block: number; node: string }> = {
  'SHA-1': { out: 20, block: 64, node: 'sha1' },
  'SHA-256': { out: 32, block: 64, node: 'sha256' },
  'SHA-384': { out: 48, block: 128, node: 'sha384' },
  'SHA-512': { out: 64, block: 128, node: 'sha512' },
};
const hashOf = (algorithm: unknown) => hashes[nameOf(dict(algorithm).hash)];

/** ms one PBKDF2 iteration of one output block takes here, per hash, measured on first use */
const iterationMs = new Map<string, number>();
function pbkdf2IterationMs(node: string): number {
  let ms = iterationMs.get(node);
  if (ms === undefined) {
    // the best of two short runs (~0.3 ms each): this machine's speed, not a busy moment's
    ms = Infinity;
    for (let i = 0; i < 2; i++) {
      const started = performance.now();
      pbkdf2Sync('calibrate', 'islet', 400, 1, node);
      ms = Math.min(ms, (performance.now() - started) / 400);
    }
    iterationMs.set(node, ms);
  }
  return ms;
}

/** RSA key generation, low bounds in ms (it is random: a prime search), by modulus length */
function rsaGenerateMs(bits: number): number {
  return bits <= 1024 ? 2 : bits <= 2048 ? 20 : bits <= 3072 ? 60 : 150;
}

/** bulk work (hashing, ciphers) over data: a low bound of 0.5 ns per byte, 2 ns expected */
const bulkMs = (bytes: number): number => bytes * 0.5e-6;
const bulkExpectedMs = (bytes: number): number => bytes * 2e-6;

/** bytes of the buffers in a value (an algorithm dictionary, key data), a few levels deep */
function bufferBytes(value: unknown, depth = 0): number {
  if (value instanceof Uint8Array) return value.byteLength;
  if (typeof value === 'string') return value.length;
  if (depth > 3 || !value || typeof value !== 'object') return 0;
  let total = 0;
  for (const member of Object.values(value as Dict)) total += bufferBytes(member, depth + 1);
  return total;
}

function notSupported(message: string): never {
  throw new SubtleRefusedError('ISLET_SUBTLE_NOT_SUPPORTED', `crypto.subtle: ${message}`);
}

const rsaTooLong = `RSA keys longer than ${MAX_RSA_BITS} bits are not supported`;

/** an RSA key past MAX_RSA_BITS (generated, imported or unwrapped): every use of it costs too much */
export function refuseLongRsa(bits: unknown): void {
  if (typeof bits === 'number' && bits > MAX_RSA_BITS) notSupported(rsaTooLong);
}

function pbkdf2Cost(algorithm: unknown, bits: number): SubtleCost {
  const iterations = Number(dict(algorithm).iterations);
  if (!(iterations <= MAX_PBKDF2_ITERATIONS)) {
    notSupported(`PBKDF2 with more than ${MAX_PBKDF2_ITERATIONS} iterations is not supported`);
  }
  const hash = hashOf(algorithm);
  if (!hash || !(bits > 0)) return { estimateMs: 0, expectedMs: 0, bytes: 0, what: 'PBKDF2' };
  const blocks = Math.ceil(bits / 8 / hash.out);
  const work = iterations * blocks;
  const what = `PBKDF2 of ${iterations} iterations x ${blocks} output blocks`;
  if (work > MAX_PBKDF2_WORK) {
    notSupported(`${what} is more than the ${MAX_PBKDF2_WORK} iteration-blocks islet runs (ask for a shorter output)`);
  }
  const estimateMs = work * pbkdf2IterationMs(hash.node);
  return { estimateMs, expectedMs: estimateMs, bytes: bits / 8, what };
}

/** bits a derived key takes (deriveKey's derivedKeyType) */
function derivedKeyBits(type: unknown): number {
  const length = Number(dict(type).length);
  if (length > 0) return length;
  if (nameOf(type) === 'HMAC') return (hashOf(type)?.block ?? 64) * 8;
  return 256;
}

function keyMaterial(what: string, bytes: number): void {
  if (bytes > MAX_KEY_BYTES)
    notSupported(`${what} of ${bytes} bytes is more than the ${MAX_KEY_BYTES} bytes islet supports`);
}

/** a private RSA operation takes a few ms at 4096 bits: never cheap */
function rsaPrivate(cost: SubtleCost, algorithm: unknown): SubtleCost {
  return nameOf(algorithm).startsWith('RSA') ? { ...cost, expectedMs: Math.max(cost.expectedMs, 2) } : cost;
}

/** the cost of `method` called with `args` (as the shim sends them, keys still handles); throws for what is refused */
export function subtleCost(method: string, args: unknown[]): SubtleCost {
  const input = args.reduce<number>((total, arg) => total + bufferBytes(arg), 0);
  const plain = (what: string, estimateMs = bulkMs(input)): SubtleCost => ({
    estimateMs,
    expectedMs: Math.max(estimateMs, bulkExpectedMs(input)),
    bytes: input * 2,
    what,
  });
  const algorithm = args[0];
  switch (method) {
    case 'deriveBits':
      if (nameOf(algorithm) === 'PBKDF2') return pbkdf2Cost(algorithm, Number(args[2]));
      return plain(`deriveBits ${nameOf(algorithm)}`);
    case 'deriveKey':
      if (nameOf(algorithm) === 'PBKDF2') return pbkdf2Cost(algorithm, derivedKeyBits(args[2]));
      return plain(`deriveKey ${nameOf(algorithm)}`);
    case 'generateKey': {
      const name = nameOf(algorithm);
      if (name.startsWith('RSA')) {
        const bits = Number(dict(algorithm).modulusLength);
        refuseLongRsa(bits > 0 ? bits : undefined);
        const estimateMs = rsaGenerateMs(bits);
        return { estimateMs, expectedMs: 4 * estimateMs, bytes: bits, what: `an RSA key of ${bits} bits` };
      }
      if (name === 'HMAC') keyMaterial('an HMAC key', Number(dict(algorithm).length ?? 0) / 8);
      return plain(`generateKey ${name}`, 0);
    }
    case 'importKey':
      keyMaterial(`key material (${String(algorithm)})`, bufferBytes(args[1]));
      return plain(`importKey ${nameOf(args[2])}`, 0);
    case 'unwrapKey':
      keyMaterial('a wrapped key', bufferBytes(args[1]));
      return rsaPrivate(plain(`unwrapKey ${nameOf(args[4])}`), args[3]);
    case 'wrapKey':
      return rsaPrivate(plain(`wrapKey ${nameOf(args[3])}`), args[3]);
    case 'sign':
    case 'decrypt':
      return rsaPrivate(plain(`${method} ${nameOf(algorithm)}`), algorithm);
    default:
      return plain(`${method} ${nameOf(algorithm)}`);
  }
}
