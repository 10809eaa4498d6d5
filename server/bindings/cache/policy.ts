// Which responses the Cache API keeps, for how long, and when a lookup answers 304: Cloudflare's
// documented rules for cache.put() and cache.match(), which read the response's headers (and,
// for a conditional match, the request's), not the browser Cache API's (which read none).
//
// - Not stored: `Cache-Control: no-store`, `private`, `no-cache` (a response that must be
//   revalidated every time is never fresh here), `max-age=0`, a past `Expires`, and any response
//   with `Set-Cookie` unless `Cache-Control: private=Set-Cookie` says to drop that header first.
// - Time to live: `s-maxage`, else `max-age`, else `Expires` (relative to `Date` when present),
//   else Cloudflare's default edge TTL for the status (200, 206, 301: 120 min; 302, 303: 20 min;
//   404, 410: 3 min; any other status: not stored).
// - A match whose request carries `If-None-Match` (weak comparison, `*` matches any tag) or,
//   without it, `If-Modified-Since` at or after the stored `Last-Modified`, answers 304.

const defaultTtlSeconds: Record<number, number> = {
  200: 7200,
  206: 7200,
  301: 7200,
  302: 1200,
  303: 1200,
  404: 180,
  410: 180,
};

/** the value of header `name` in flat pairs (names lower-case), or null; several are joined by ', ' */
export function headerValue(headers: readonly string[], name: string): string | null {
  let value: string | null = null;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (headers[i] === name) value = value === null ? headers[i + 1]! : `${value}, ${headers[i + 1]}`;
  }
  return value;
}

interface Directives {
  [name: string]: string | true;
}

/** Cache-Control directives, names lower-case, quoted values unquoted */
export function cacheControl(value: string | null): Directives {
  const out: Directives = {};
  if (!value) return out;
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (!name) continue;
    const raw = eq === -1 ? true : part.slice(eq + 1).trim();
    out[name] = typeof raw === 'string' ? raw.replace(/^"(.*)"$/, '$1') : raw;
  }
  return out;
}

function seconds(value: string | true | undefined): number | null {
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return null;
  return Number(value);
}

export type StoreDecision = { store: false; reason: string } | { store: true; ttlMs: number; headers: string[] };

/** what cache.put() does with a response of `status` and `headers` (flat, lower-case names), at time `now` */
export function storeDecision(status: number, headers: readonly string[], now = Date.now()): StoreDecision {
  const cc = cacheControl(headerValue(headers, 'cache-control'));
  if (cc['no-store']) return { store: false, reason: 'Cache-Control: no-store' };
  if (cc['no-cache'] === true) return { store: false, reason: 'Cache-Control: no-cache' };
  let kept = [...headers];
  if (headerValue(headers, 'set-cookie') !== null) {
    const privateFields = typeof cc.private === 'string' ? cc.private.toLowerCase().split(/\s*,\s*/) : [];
    if (!privateFields.includes('set-cookie')) return { store: false, reason: 'the response sets a cookie' };
    kept = kept.filter((_, i, all) => (i % 2 === 0 ? all[i] !== 'set-cookie' : all[i - 1] !== 'set-cookie'));
  } else if (cc.private === true) {
    return { store: false, reason: 'Cache-Control: private' };
  }
  let ttl = seconds(cc['s-maxage']) ?? seconds(cc['max-age']);
  if (ttl === null) {
    const expires = headerValue(headers, 'expires');
    if (expires !== null) {
      const at = Date.parse(expires);
      if (Number.isNaN(at)) return { store: false, reason: 'Expires is not a date (already expired)' };
      const date = Date.parse(headerValue(headers, 'date') ?? '');
      ttl = Math.floor((at - (Number.isNaN(date) ? now : date)) / 1000);
    } else {
      ttl = defaultTtlSeconds[status] ?? 0;
    }
  }
  if (ttl <= 0) return { store: false, reason: `no time to live (status ${status})` };
  return { store: true, ttlMs: ttl * 1000, headers: kept };
}

/** the entity tags of an If-None-Match value ('*' alone stands for any) */
function entityTags(value: string): string[] {
  return value
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
}

const opaque = (tag: string) => tag.replace(/^W\//, '');

/** whether a conditional match of a stored response answers 304 Not Modified */
export function notModified(stored: readonly string[], request: readonly string[]): boolean {
  const ifNoneMatch = headerValue(request, 'if-none-match');
  if (ifNoneMatch !== null) {
    const etag = headerValue(stored, 'etag');
    const tags = entityTags(ifNoneMatch);
    if (tags.includes('*')) return true;
    return etag !== null && tags.some((t) => opaque(t) === opaque(etag.trim()));
  }
  const since = Date.parse(headerValue(request, 'if-modified-since') ?? '');
  const modified = Date.parse(headerValue(stored, 'last-modified') ?? '');
  return !Number.isNaN(since) && !Number.isNaN(modified) && modified <= since;
}

/** the headers a 304 carries: those describing the stored response, not its body */
const notModifiedHeaders = new Set([
  'cache-control',
  'content-location',
  'date',
  'etag',
  'expires',
  'vary',
  'last-modified',
]);

export function notModifiedHead(stored: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < stored.length; i += 2) {
    if (notModifiedHeaders.has(stored[i]!)) out.push(stored[i]!, stored[i + 1]!);
  }
  return out;
}
