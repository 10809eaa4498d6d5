// Node's IncomingMessage as the isolate sees it (front/exchange.ts assembles the SandboxRequest):
// request ids, flat lower-case header pairs (no object per header), and the body, either read
// whole first when small and announced by its length, or as a pull-based async iterable, so a
// function that reads slowly slows the client down (backpressure) instead of islet buffering
// the upload, and reading past the body limit fails the read.
import type { IncomingMessage } from 'node:http';
import { randomFillSync } from 'node:crypto';
import { BodyTimeoutError, LimitExceededError } from '../errors';
import { smallContentLength } from '../host/bytes';

/**
 * Request ids: 128 random bits in hex. Not a counter: every response carries its id, and a
 * counter (even behind a random per-process prefix) let anyone count the requests other tenants
 * of the same worker received between two of their own. The random bytes are drawn from the
 * system's generator in batches, so an id costs a hex conversion of 16 bytes.
 */
const idBytes = 16;
const idPool = Buffer.alloc(idBytes * 256);
let idOffset = idPool.length;
export function nextRequestId(): string {
  if (idOffset === idPool.length) {
    randomFillSync(idPool);
    idOffset = 0;
  }
  const id = idPool.toString('hex', idOffset, idOffset + idBytes);
  idOffset += idBytes;
  return id;
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
  /** the bytes received when the body passed its limit; null while it has not */
  bodyExceeded: number | null;
}

/** The request body as chunks pulled on demand, failing with LimitExceededError('body') past `limit` bytes. */
export function limitedBody(req: IncomingMessage, limit: number, guard: BodyGuard): AsyncIterable<Uint8Array> {
  return {
    async *[Symbol.asyncIterator]() {
      let total = 0;
      for await (const chunk of req as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (total > limit) {
          guard.bodyExceeded = total;
          throw new LimitExceededError('body', total);
        }
        yield chunk;
      }
    },
  };
}

/**
 * the Content-Length of a request with a small, length-delimited body, read whole before
 * dispatch; null otherwise (none, chunked, or large)
 */
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
      reject(
        new BodyTimeoutError(
          `the request body did not arrive in time: ${received} of ${length} bytes in ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onGone);
    req.once('close', onGone);
  });
}
