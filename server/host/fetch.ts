// fetch() from tenant code, performed by undici's dispatcher on the host (not undici's WHATWG
// fetch: islet follows redirects and decodes bodies itself, per the Fetch standard, and skips
// fetch's Request/Response/Headers objects on the host). Every connection goes through the
// egress guard (the connector resolves the name itself and connects to the checked address, so
// a redirect to an inner host, or a DNS answer pointing inward, is refused like a direct URL).
import net from 'node:net';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import { exactBytes, smallContentLength } from './bytes';
import type { EgressGuard } from './egress';
import { decodableCodings, decodeBody } from './fetch-decode';
import { nextHop, redirectStatuses, type Hop } from './fetch-redirect';

export function createEgressAgent(guard: EgressGuard): Agent {
  const connect = buildConnector({});
  return new Agent({
    connect(options, callback) {
      const hostname = options.hostname;
      guard.resolve(hostname).then(
        ({ address }) => {
          // connect to the checked address; TLS still names (and verifies) the original host
          const servername = options.servername ?? (net.isIP(hostname.replace(/^\[|\]$/g, '')) ? undefined : hostname);
          connect({ ...options, hostname: address, servername }, callback);
        },
        (error) => callback(error, null),
      );
    },
  });
}

export interface FetchInput {
  method: string;
  url: string;
  headers: string[];
  body: Uint8Array | string | AsyncIterable<Uint8Array> | null;
  redirect: 'follow' | 'error' | 'manual';
  signal: AbortSignal;
}

export interface FetchResult {
  status: number;
  statusText: string;
  headers: string[];
  urlList: string[];
  redirected: boolean;
  body: AsyncIterator<Uint8Array> | null;
}

/** fetch's default request headers (as undici's fetch adds them), each only when the function set none */
function withDefaults(headers: [string, string][], url: URL): [string, string][] {
  const has = (name: string) => headers.some(([n]) => n === name);
  const out = headers.slice();
  if (!has('accept')) out.push(['accept', '*/*']);
  if (!has('accept-language')) out.push(['accept-language', '*']);
  if (!has('sec-fetch-mode')) out.push(['sec-fetch-mode', 'cors']);
  if (!has('user-agent')) out.push(['user-agent', 'undici']);
  if (has('range')) out.push(['accept-encoding', 'identity']);
  else if (!has('accept-encoding'))
    out.push(['accept-encoding', url.protocol === 'https:' ? 'br, gzip, deflate' : 'gzip, deflate']);
  return out;
}

type Answer = Dispatcher.ResponseData;

function send(agent: Agent, hop: Hop, signal: AbortSignal): Promise<Answer> {
  const headers = withDefaults(hop.headers, hop.url).flat();
  return agent.request({
    origin: hop.url.origin,
    path: hop.url.pathname + hop.url.search,
    method: hop.method as Dispatcher.HttpMethod,
    headers,
    body: hop.body as never,
    signal,
  });
}

function single(value: string | string[] | undefined): string | null {
  return value === undefined ? null : Array.isArray(value) ? (value[0] ?? null) : value;
}

/**
 * performs one subrequest on undici's dispatcher (connections pooled per origin by `agent`),
 * following redirects by the Fetch standard (./fetch-redirect.ts) and decoding the body as fetch
 * does (./fetch-decode.ts); rejects with a TypeError carrying a clear message when refused or failed
 */
export async function performFetch(agent: Agent, input: FetchInput): Promise<FetchResult> {
  const url = URL.parse(input.url);
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new TypeError(`fetch: only http: and https: URLs can be fetched (got ${input.url})`);
  }
  const headers: [string, string][] = [];
  for (let i = 0; i + 1 < input.headers.length; i += 2)
    headers.push([input.headers[i]!.toLowerCase(), input.headers[i + 1]!]);
  let hop: Hop = { method: input.method, url, headers, body: input.body };
  const urlList = [url.href];
  for (let followed = 0; ; followed++) {
    let answer: Answer;
    try {
      answer = await send(agent, hop, input.signal);
    } catch (error) {
      if (input.signal.aborted) throw input.signal.reason;
      throw new TypeError('fetch failed', { cause: error });
    }
    const status = answer.statusCode;
    if (redirectStatuses.has(status) && input.redirect !== 'manual') {
      let next: Hop | null;
      try {
        if (input.redirect === 'error')
          throw new TypeError(`fetch: the response redirects (${status}) and redirect is 'error'`);
        next = nextHop(hop, status, single(answer.headers.location), followed);
      } catch (error) {
        // undici's body reports its own destruction as an error: nobody reads it
        answer.body.on('error', () => {}).destroy();
        throw error;
      }
      if (next !== null) {
        // the redirect's own body is not wanted; reading it out keeps the connection reusable
        await answer.body.dump().catch(() => undefined);
        hop = next;
        urlList.push(next.url.href);
        continue;
      }
    }
    return result(answer, hop.method, urlList);
  }
}

function result(answer: Answer, method: string, urlList: string[]): FetchResult {
  const status = answer.statusCode;
  const nullBody = method === 'HEAD' || status === 204 || status === 205 || status === 304;
  const codings = nullBody ? null : decodableCodings(single(answer.headers['content-encoding']));
  const flat: string[] = [];
  for (const [name, value] of Object.entries(answer.headers)) {
    if (value === undefined) continue;
    // the isolate must not see the encoding of bytes it no longer has, or a function returning
    // the response as-is would send plain bytes labelled gzip
    if (codings && (name === 'content-encoding' || name === 'content-length')) continue;
    if (Array.isArray(value)) for (const v of value) flat.push(name, v);
    else flat.push(name, value);
  }
  let body: AsyncIterator<Uint8Array> | null = null;
  if (nullBody) answer.body.dump().catch(() => undefined);
  else {
    const stream = codings ? decodeBody(answer.body, codings) : answer.body;
    body = stream[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
  }
  return {
    status,
    statusText: answer.statusText ?? '',
    headers: flat,
    urlList,
    redirected: urlList.length > 1,
    body,
  };
}

/** the message a tenant sees for a failed fetch: the cause undici wraps, or the error itself */
export function fetchErrorMessage(error: unknown): [string, string] {
  const e = error as Error & { cause?: Error & { code?: string } };
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') return [e.name, e.message];
  const cause = e?.cause;
  if (cause && (cause as { code?: string }).code === 'ISLET_EGRESS_REFUSED') return ['TypeError', cause.message];
  if (cause?.name === 'AbortError' || cause?.name === 'TimeoutError') return [cause.name, cause.message];
  const detail = cause ? `${cause.message}${cause.code ? ` (${cause.code})` : ''}` : (e?.message ?? String(error));
  return ['TypeError', `fetch failed: ${detail}`];
}

/** the Content-Length of a response (flat header pairs) when it is at most `max`, else null */
export function declaredSmallBody(headers: string[], max: number): number | null {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === 'content-length') return smallContentLength(headers[i + 1], max);
  }
  return null;
}

/** every chunk of a body whose length is known to be at most `max`, as one array */
export async function readWhole(body: AsyncIterator<Uint8Array>, max: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const step = await body.next();
    if (step.done) break;
    total += step.value.byteLength;
    if (total > max) {
      await body.return?.().catch(() => undefined);
      throw new TypeError(`the response body is longer than its Content-Length (${max} bytes)`);
    }
    chunks.push(step.value);
  }
  return chunks.length === 1 ? exactBytes(chunks[0]!) : new Uint8Array(Buffer.concat(chunks, total));
}
