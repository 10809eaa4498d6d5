// Node's IncomingMessage -> the SandboxRequest the isolate sees: the full original URL, flat
// lower-case header pairs (no object per header), and the body as a pull-based async iterable,
// so a function that reads slowly slows the client down (backpressure) instead of islet
// buffering the upload, and reading past the body limit fails the read.
import type { IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import { BodyTimeoutError, LimitExceededError } from '../errors';
import type { SandboxRequest } from '../host/types';
import { smallContentLength } from '../host/bytes';

/** Request ids: a random per-process prefix and a counter (unique, cheap, sortable within a process). */
const idPrefix = randomBytes(6).toString('hex');
let idCounter = 0;
export const nextRequestId = (): string => `${idPrefix}-${(++idCounter).toString(36)}`;

const hostnameChars = /^[a-z0-9.-]+$/;

// Clients send the same few Host headers over and over: their parsed form is remembered (bounded:
// the whole table is dropped when full, so hostile variety costs a re-parse, never memory).
const hostCache = new Map<string, string | null>();
const hostCacheMax = 4096;

/** The lower-case host name of a Host header without its port, or null when it is not a valid one. */
export function parseHost(header: string | undefined): string | null {
  if (!header) return null;
  let host = hostCache.get(header);
  if (host === undefined) {
    host = parseHostUncached(header);
    if (hostCache.size >= hostCacheMax) hostCache.clear();
    hostCache.set(header, host);
  }
  return host;
}

function parseHostUncached(header: string): string | null {
  let host = header.toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end === -1) return null;
    const rest = host.slice(end + 1);
    if (rest && !/^:\d{1,5}$/.test(rest)) return null;
    host = host.slice(0, end + 1);
    return /^\[[0-9a-f:.]+\]$/.test(host) ? host : null;
  }
  const colon = host.indexOf(':');
  if (colon !== -1) {
    if (!/^\d{1,5}$/.test(host.slice(colon + 1))) return null;
    host = host.slice(0, colon);
  }
  if (host.endsWith('.')) host = host.slice(0, -1); // the absolute form of a DNS name
  return host.length > 0 && host.length <= 253 && hostnameChars.test(host) ? host : null;
}

/** Flat [name, value, ...] pairs with lower-case names, straight from the raw header list. */
export function flatHeaders(raw: string[]): string[] {
  const out = new Array<string>(raw.length);
  for (let i = 0; i < raw.length; i += 2) {
    out[i] = raw[i]!.toLowerCase();
    out[i + 1] = raw[i + 1]!;
  }
  return out;
}

export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/** Tracks whether the body went over its limit, for the front to answer 413 instead of the function's response. */
export interface BodyGuard {
  exceeded: number | null;
}

/** The request body as chunks pulled on demand, failing with LimitExceededError('body') past `limit` bytes. */
export function limitedBody(req: IncomingMessage, limit: number, guard: BodyGuard): AsyncIterable<Uint8Array> {
  return {
    async *[Symbol.asyncIterator]() {
      let total = 0;
      for await (const chunk of req as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (total > limit) {
          guard.exceeded = total;
          throw new LimitExceededError('body', total);
        }
        yield chunk;
      }
    },
  };
}

/** the Content-Length of a request with a small, length-delimited body, read whole before dispatch; null otherwise (none, chunked, or large) */
export function smallBodyLength(req: IncomingMessage): number | null {
  if (req.headers['transfer-encoding'] !== undefined) return null;
  const length = smallContentLength(req.headers['content-length']);
  return length !== null && length > 0 ? length : null;
}

/**
 * The whole body of `req` (Node's parser stops it at `length` bytes). Rejects with
 * BodyTimeoutError when it has not all arrived within `timeoutMs`, or with an Error when the
 * client went away first.
 */
export function readSmallBody(req: IncomingMessage, length: number, timeoutMs: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const cleanup = () => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onGone);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
    };
    const onGone = () => {
      cleanup();
      reject(new Error(`the request body ended after ${received} of ${length} bytes`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new BodyTimeoutError(`the request body did not arrive in time: ${received} of ${length} bytes in ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onGone);
    req.once('close', onGone);
  });
}

export function toSandboxRequest(id: string, req: IncomingMessage, host: string, path: string, body: Uint8Array | AsyncIterable<Uint8Array> | null): SandboxRequest {
  return {
    id,
    method: req.method ?? 'GET',
    url: `http://${host}${path}`,
    headers: flatHeaders(req.rawHeaders),
    body,
  };
}
