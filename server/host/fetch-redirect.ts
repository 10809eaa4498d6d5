// The Fetch standard's HTTP-redirect fetch for islet's host-side fetch() (./fetch.ts): which
// statuses redirect, where to, and how the request changes on the way (method and body rewritten
// on 301/302 POST and 303, request-body headers dropped with the body, credentials dropped when
// the origin changes, at most 20 hops, a streamed body never replayed). Each hop is a new
// request through the same egress-guarded agent, so every hop is checked like the first.

export type HopBody = Uint8Array | string | AsyncIterable<Uint8Array> | null;

/** one request of the redirect chain; headers are lower-case [name, value] pairs */
export interface Hop {
  method: string;
  url: URL;
  headers: [string, string][];
  body: HopBody;
}

export const redirectStatuses: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
export const maxRedirects = 20;

/** headers that describe a request body (Fetch: request-body-header name), dropped with it */
const bodyHeaders = new Set([
  'content-encoding',
  'content-language',
  'content-location',
  'content-type',
  'content-length',
]);
/** headers never carried to another origin (Fetch drops Authorization; undici also these) */
const credentialHeaders = new Set(['authorization', 'proxy-authorization', 'cookie', 'host']);

function isStream(body: HopBody): body is AsyncIterable<Uint8Array> {
  return body !== null && typeof body === 'object' && Symbol.asyncIterator in body;
}

/**
 * The request to send after a redirect response with `location` (null: no Location header, the
 * response is final). `followed` is how many redirects were followed already. Throws a
 * TypeError saying why the redirect cannot be followed.
 */
export function nextHop(current: Hop, status: number, location: string | null, followed: number): Hop | null {
  if (location === null) return null;
  const next = URL.parse(location, current.url);
  if (next === null) throw new TypeError(`fetch: the redirect's Location '${location}' is not a valid URL`);
  // a Location without a fragment keeps the request's (Fetch: location URL)
  if (next.hash === '' && current.url.hash !== '') next.hash = current.url.hash;
  if (next.protocol !== 'http:' && next.protocol !== 'https:')
    throw new TypeError(`fetch: a redirect to ${next.protocol} URLs cannot be followed (${next.href})`);
  if (followed >= maxRedirects)
    throw new TypeError(`fetch: more than ${maxRedirects} redirects (the last to ${next.href})`);
  if (status !== 303 && current.body !== null && isStream(current.body))
    throw new TypeError('fetch: a redirect cannot be followed with a streamed request body (it cannot be sent again)');
  let { method, body } = current;
  let headers = current.headers;
  if (
    ((status === 301 || status === 302) && method === 'POST') ||
    (status === 303 && method !== 'GET' && method !== 'HEAD')
  ) {
    method = 'GET';
    body = null;
    headers = headers.filter(([name]) => !bodyHeaders.has(name));
  }
  if (next.origin !== current.url.origin) headers = headers.filter(([name]) => !credentialHeaders.has(name));
  return { method, url: next, headers, body };
}
