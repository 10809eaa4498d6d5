// Writing to the client: the function's SandboxResponse (headers as one flat array, body bytes or
// chunks pulled one at a time and only as fast as the socket drains), and islet's own short
// plain-text answers for requests that never reach a function or that a limit cut.
import { scopeCookie, type CookieScope } from './cookies';
import type { ServerResponse } from 'node:http';
import { InvalidResponseError, ResponseAbortedError } from '../errors';
import type { SandboxResponse } from '../host/types';

/**
 * Connection-level headers belong to islet's connection with the client, not to the function;
 * so do islet's own signals: a function must not forge the request id or an `islet-error` that
 * clients and monitoring read as a limit cut by the platform.
 */
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'te',
  'trailer',
  'islet-request-id',
  'islet-error',
]);

/** Islet's own answer (404, 413, 503...), plain text, always with the request id. */
export function sendPlain(
  res: ServerResponse,
  status: number,
  requestId: string,
  message: string,
  limit?: string,
  extraHeaders?: readonly string[],
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${message}\nrequest id: ${requestId}\n`;
  const headers = [
    'content-type',
    'text/plain; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(body)),
    'islet-request-id',
    requestId,
    'cache-control',
    'no-store',
  ];
  if (limit) headers.push('islet-error', limit);
  if (extraHeaders) headers.push(...extraHeaders);
  res.writeHead(status, headers);
  res.end(body);
}

/** where the request's cookie scope comes from: asked only when the response sets a cookie */
export interface ScopeOf {
  cookieScope(): CookieScope | undefined;
}

/**
 * The response's headers as Node takes them: the function's, less the ones islet owns, plus the
 * request id and length.
 */
function responseHeaders(response: SandboxResponse, requestId: string, head: boolean, scope?: ScopeOf): string[] {
  const { body } = response;
  const headers: string[] = [];
  const src = response.headers;
  for (let i = 0; i < src.length; i += 2) {
    const name = src[i]!;
    if (hopByHop.has(name)) continue;
    // islet sets the length itself: exact for a whole body, absent (chunked) for a stream; only
    // a HEAD answer keeps the function's, which describes the body a GET would get
    if (name === 'content-length' && !(head && body === null)) continue;
    // a cookie may not be scoped to other tenants' hostnames (front/cookies.ts)
    const cookies = name === 'set-cookie' ? scope?.cookieScope() : undefined;
    if (cookies) headers.push(name, scopeCookie(src[i + 1]!, cookies));
    else headers.push(name, src[i + 1]!);
  }
  headers.push('islet-request-id', requestId);
  if (body instanceof Uint8Array) headers.push('content-length', String(body.byteLength));
  return headers;
}

/**
 * Writes a response whose body is whole (bytes or none) synchronously: the hot path, with no
 * promise in between. Throws InvalidResponseError (nothing sent yet) when Node refuses the status
 * or a header.
 */
export function writeWholeResponse(
  res: ServerResponse,
  response: SandboxResponse & { body: Uint8Array | null },
  requestId: string,
  head = false,
  scope?: ScopeOf,
): void {
  try {
    res.writeHead(response.status, response.statusText || undefined, responseHeaders(response, requestId, head, scope));
  } catch (err) {
    // writeHead validates before it writes, so nothing reached the client: the caller can still answer 500
    throw new InvalidResponseError((err as Error).message);
  }
  if (response.body === null) res.end();
  else res.end(response.body);
}

/**
 * Writes the function's response; resolves when written, rejects when the client went away or the
 * body stream failed, or with InvalidResponseError (nothing sent yet) when Node refuses the status
 * or a header. `head`: a HEAD request, whose body is not pulled from the isolate at all.
 */
export async function writeSandboxResponse(
  res: ServerResponse,
  response: SandboxResponse,
  requestId: string,
  head = false,
  scope?: ScopeOf,
): Promise<void> {
  const { body } = response;
  if (body === null || body instanceof Uint8Array) {
    writeWholeResponse(res, response as SandboxResponse & { body: Uint8Array | null }, requestId, head, scope);
    return;
  }
  try {
    res.writeHead(response.status, response.statusText || undefined, responseHeaders(response, requestId, head, scope));
  } catch (err) {
    await body[Symbol.asyncIterator]()
      .return?.()
      .catch(() => undefined);
    throw new InvalidResponseError((err as Error).message);
  }
  if (head) {
    await body[Symbol.asyncIterator]()
      .return?.()
      .catch(() => undefined);
    res.end();
    return;
  }
  const iterator = body[Symbol.asyncIterator]();
  let closed = false;
  const onClose = () => {
    closed = true;
  };
  res.once('close', onClose);
  try {
    for (;;) {
      const step = await iterator.next();
      if (step.done) break;
      if (closed || res.destroyed) throw new ResponseAbortedError();
      if (!res.write(step.value)) {
        await drained(res);
        if (closed || res.destroyed) throw new ResponseAbortedError();
      }
    }
    res.end();
  } catch (err) {
    // Stop pulling from the isolate (the function's stream is cancelled) and cut the connection:
    // a truncated body must not look complete to the client.
    await iterator.return?.().catch(() => undefined);
    res.destroy();
    throw err;
  } finally {
    res.off('close', onClose);
  }
}

/** Resolves on 'drain' or 'close', whichever comes first, leaving no listener behind. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
