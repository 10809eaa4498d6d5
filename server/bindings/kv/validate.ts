// Cloudflare's KV limits and the errors a function gets for crossing them, worded as Workers
// words them (`KV PUT failed: 413 Value length of ... exceeds limit of 26214400.`), so code that
// matches on those messages behaves the same here. Every check runs on the host: the isolate
// only converts values.
import type { ErrorParts } from '../../bridge/ops';

export const MAX_KEY_BYTES = 512;
export const MAX_VALUE_BYTES = 25 * 1024 * 1024;
export const MAX_METADATA_BYTES = 1024;
export const MIN_TTL_SECONDS = 60;
export const MAX_LIST_KEYS = 1000;

/** a refusal: the error the function sees */
export class KvRefusal extends Error {
  constructor(readonly parts: ErrorParts) {
    super(parts[1]);
  }
}

const failed = (method: string, status: number, message: string) =>
  new KvRefusal(['Error', `KV ${method} failed: ${status} ${message}`]);

export function checkKey(method: 'GET' | 'PUT' | 'DELETE', key: unknown): string {
  if (typeof key !== 'string') throw new KvRefusal(['TypeError', 'Key name must be a string.']);
  if (key === '') throw new KvRefusal(['TypeError', 'Key name cannot be empty.']);
  if (key === '.' || key === '..') throw new KvRefusal(['TypeError', `"${key}" is not allowed as a key name.`]);
  const length = Buffer.byteLength(key);
  if (length > MAX_KEY_BYTES) {
    throw failed(method, 414, `UTF-8 encoded length of ${length} exceeds key length limit of ${MAX_KEY_BYTES}.`);
  }
  return key;
}

export function checkCacheTtl(cacheTtl: unknown): void {
  if (cacheTtl === null || cacheTtl === undefined) return;
  if (typeof cacheTtl !== 'number' || Number.isNaN(cacheTtl) || cacheTtl < MIN_TTL_SECONDS) {
    throw failed(
      'GET',
      400,
      `Invalid cache_ttl of ${String(cacheTtl)}. Cache TTL must be at least ${MIN_TTL_SECONDS}.`,
    );
  }
}

/** the absolute expiration (seconds since the epoch) a put asks for, or null */
export function checkExpiration(expiration: unknown, expirationTtl: unknown, now = Date.now() / 1000): number | null {
  if (expirationTtl !== null && expirationTtl !== undefined) {
    const ttl = Math.round(Number(expirationTtl));
    if (!Number.isFinite(ttl) || ttl <= 0) {
      throw failed(
        'PUT',
        400,
        `Invalid expiration_ttl of ${String(expirationTtl)}. Please specify integer greater than 0.`,
      );
    }
    if (ttl < MIN_TTL_SECONDS) {
      throw failed(
        'PUT',
        400,
        `Invalid expiration_ttl of ${String(expirationTtl)}. Expiration TTL must be at least ${MIN_TTL_SECONDS}.`,
      );
    }
    return Math.floor(now) + ttl;
  }
  if (expiration !== null && expiration !== undefined) {
    const at = Math.round(Number(expiration));
    if (!Number.isFinite(at) || at <= now) {
      throw failed(
        'PUT',
        400,
        `Invalid expiration of ${String(expiration)}. ` +
          'Please specify integer greater than the current number of seconds since the UNIX epoch.',
      );
    }
    if (at < now + MIN_TTL_SECONDS) {
      throw failed(
        'PUT',
        400,
        `Invalid expiration of ${String(expiration)}. Expiration times must be at least ${MIN_TTL_SECONDS} seconds in the future.`,
      );
    }
    return at;
  }
  return null;
}

export function checkMetadata(metadata: unknown): string | null {
  if (metadata === null || metadata === undefined) return null;
  if (typeof metadata !== 'string') throw new KvRefusal(['TypeError', 'KV metadata must be JSON-serialisable.']);
  const length = Buffer.byteLength(metadata);
  if (length > MAX_METADATA_BYTES) {
    throw failed('PUT', 413, `Metadata length of ${length} exceeds limit of ${MAX_METADATA_BYTES}.`);
  }
  return metadata;
}

export function checkValue(value: unknown): Buffer {
  let bytes: Buffer;
  if (typeof value === 'string') bytes = Buffer.from(value, 'utf8');
  else if (value instanceof Uint8Array) bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  else {
    throw new KvRefusal([
      'TypeError',
      'KV put() accepts only strings, ArrayBuffers, ArrayBufferViews, and ReadableStreams as values.',
    ]);
  }
  if (bytes.length > MAX_VALUE_BYTES) {
    throw failed('PUT', 413, `Value length of ${bytes.length} exceeds limit of ${MAX_VALUE_BYTES}.`);
  }
  return bytes;
}

export function checkListOptions(prefix: unknown, limit: unknown): { prefix: string | null; limit: number } {
  let count = MAX_LIST_KEYS;
  if (limit !== null && limit !== undefined) {
    const n = Number(limit);
    if (!Number.isInteger(n) || n < 1) {
      throw failed(
        'GET',
        400,
        `Invalid key_count_limit of ${String(limit)}. Please specify an integer greater than 0.`,
      );
    }
    if (n > MAX_LIST_KEYS) {
      throw failed(
        'GET',
        400,
        `Invalid key_count_limit of ${String(limit)}. Please specify an integer less than or equal to ${MAX_LIST_KEYS}.`,
      );
    }
    count = n;
  }
  if (prefix === null || prefix === undefined || prefix === '') return { prefix: null, limit: count };
  if (typeof prefix !== 'string') throw new KvRefusal(['TypeError', 'The list prefix must be a string.']);
  const length = Buffer.byteLength(prefix);
  if (length > MAX_KEY_BYTES) {
    throw failed('GET', 414, `UTF-8 encoded length of ${length} exceeds key length limit of ${MAX_KEY_BYTES}.`);
  }
  return { prefix, limit: count };
}

/** a cursor this node handed out: base64url of a key */
export function checkCursor(cursor: unknown): string | null {
  if (cursor === null || cursor === undefined || cursor === '') return null;
  if (typeof cursor !== 'string' || !/^[A-Za-z0-9_-]{1,700}$/.test(cursor)) {
    throw failed('GET', 400, 'Invalid cursor: pass the cursor of the previous list() call.');
  }
  return cursor;
}
