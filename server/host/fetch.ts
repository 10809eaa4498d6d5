// fetch() from tenant code, performed by undici on the host. Every connection goes through the
// egress guard (the connector resolves the name itself and connects to the checked address, so
// a redirect to an inner host, or a DNS answer pointing inward, is refused like a direct URL).
import net from 'node:net';
import zlib from 'node:zlib';
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';
import { exactBytes, smallContentLength } from './bytes';
import type { EgressGuard } from './egress';

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

/** performs one subrequest; rejects with a TypeError carrying a clear message when refused or failed */
export async function performFetch(agent: Agent, input: FetchInput): Promise<FetchResult> {
  const url = URL.parse(input.url);
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new TypeError(`fetch: only http: and https: URLs can be fetched (got ${input.url})`);
  }
  const headers: [string, string][] = [];
  for (let i = 0; i + 1 < input.headers.length; i += 2) headers.push([input.headers[i], input.headers[i + 1]]);
  const init: Record<string, unknown> = {
    method: input.method,
    headers,
    redirect: input.redirect,
    signal: input.signal,
    dispatcher: agent,
  };
  if (input.body !== null) {
    init.body = input.body;
    if (typeof input.body === 'object' && Symbol.asyncIterator in input.body) init.duplex = 'half';
  }
  const response = await undiciFetch(input.url, init as never);
  // undici hands over the body decoded; the isolate must not see the encoding of bytes it no
  // longer has, or a function returning the response as-is would send plain bytes labelled gzip
  const decoded =
    response.body !== null && input.method !== 'HEAD' && decodedByUndici(response.headers.get('content-encoding'));
  const flat: string[] = [];
  for (const [name, value] of response.headers) {
    if (decoded && (name === 'content-encoding' || name === 'content-length')) continue;
    flat.push(name, value);
  }
  const iterator = response.body ? (response.body[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>) : null;
  return {
    status: response.status,
    statusText: response.statusText,
    headers: flat,
    urlList: [response.url || input.url],
    redirected: response.redirected,
    body: iterator,
  };
}

const zstdDecoded = typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress === 'function';
/** undici's fetch decodes a body when it knows every coding listed (gzip, deflate, br, zstd) */
function decodedByUndici(contentEncoding: string | null): boolean {
  if (!contentEncoding) return false;
  const codings = contentEncoding
    .toLowerCase()
    .split(',')
    .map((c) => c.trim());
  return (
    codings.length <= 5 &&
    codings.every(
      (c) => c === 'gzip' || c === 'x-gzip' || c === 'deflate' || c === 'br' || (c === 'zstd' && zstdDecoded),
    )
  );
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
