// Host operations that compute a value and answer at once (no I/O): WHATWG URL parsing, UTF-8
// for long strings, randomness, structured clone. Each takes and returns only values that copy
// cheaply across the bridge; a value of the wrong type answers null or throws a clear error.
import crypto from 'node:crypto';
import { exactBytes } from './bytes';
import type { HostOpHandlers } from './run';

/** URL components in the order runtime-shims/url/url.ts reads them */
function parts(url: URL): string[] {
  return [
    url.href,
    url.origin,
    url.protocol,
    url.username,
    url.password,
    url.host,
    url.hostname,
    url.port,
    url.pathname,
    url.search,
    url.hash,
  ];
}

export function parseURL(input: unknown, base: unknown): string[] | null {
  if (typeof input !== 'string' || (base !== undefined && typeof base !== 'string')) return null;
  const url = URL.parse(input, base as string | undefined);
  return url ? parts(url) : null;
}

const setters = new Set(['protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash']);

export function setURL(href: unknown, name: unknown, value: unknown): string[] | null {
  if (typeof href !== 'string' || typeof name !== 'string' || typeof value !== 'string' || !setters.has(name))
    return null;
  const url = URL.parse(href);
  if (!url) return null;
  (url as unknown as Record<string, string>)[name] = value;
  return parts(url);
}

const fatalDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lenientDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

export function utf8Encode(text: unknown): Uint8Array {
  return exactBytes(Buffer.from(String(text), 'utf8'));
}

export function utf8Decode(bytes: unknown, fatal: unknown): string | null {
  if (!(bytes instanceof Uint8Array)) return null;
  try {
    return (fatal ? fatalDecoder : lenientDecoder).decode(bytes);
  } catch {
    return null;
  }
}

export function randomBytes(length: unknown): Uint8Array {
  const n = Number(length);
  if (!Number.isInteger(n) || n < 0 || n > 65536) throw new RangeError(`random: ${n} bytes is outside 0..65536`);
  return exactBytes(crypto.randomBytes(n));
}

export const valueOps: HostOpHandlers<'url' | 'urlSet' | 'clone' | 'random' | 'uuid' | 'utf8Encode' | 'utf8Decode'> = {
  url: (_caller, input, base) => parseURL(input, base),
  urlSet: (_caller, href, name, value) => setURL(href, name, value),
  // the bridge copies the argument in and the result out with V8's serializer: that is the clone
  clone: (_caller, value) => value,
  random: (_caller, length) => randomBytes(length),
  uuid: () => crypto.randomUUID(),
  utf8Encode: (_caller, text) => utf8Encode(text),
  utf8Decode: (_caller, bytes, fatal) => utf8Decode(bytes, fatal),
};
