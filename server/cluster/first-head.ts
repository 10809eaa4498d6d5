// The supervisor's part of a new connection before any worker has it: read the first request
// head (to route by its Host, cluster/routing.ts), bounded in time and size, then stop reading
// at once, since the rest of the request belongs to the worker. And islet's few answers of its
// own on a connection no worker took or whose worker died.
import type net from 'node:net';
import { headEnd } from './routing';

export interface FirstHeadLimits {
  /** time a new connection has to send its first request head */
  headTimeoutMs: number;
  /** largest first request head read before routing */
  maxHeadBytes: number;
}

/** Calls `ready` with the bytes read up to the end of the first head (or the size bound); 408 on a timeout. */
export function readFirstHead(socket: net.Socket, limits: FirstHeadLimits, ready: (head: Buffer) => void): void {
  let head: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => {
    socket.removeAllListeners('data');
    respondAndClose(socket, 408, 'Request Timeout', 'the request head did not arrive in time\n');
  }, limits.headTimeoutMs);
  socket.on('error', () => socket.destroy());
  socket.on('close', () => clearTimeout(timer));
  socket.on('data', (chunk: Buffer) => {
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
    if (head.indexOf(headEnd) === -1 && head.length < limits.maxHeadBytes) return;
    clearTimeout(timer);
    socket.removeAllListeners('data');
    socket.removeAllListeners('close');
    socket.pause();
    // stop the primary's reads at once: the rest of the request belongs to the worker
    (socket as unknown as { _handle?: { readStop(): void } })._handle?.readStop();
    let more: Buffer | null;
    while ((more = socket.read() as Buffer | null) !== null) head = Buffer.concat([head, more]);
    ready(head);
  });
  socket.resume();
}

/** Answers a connection no worker took (or whose worker died) and closes it. */
export function respondAndClose(
  socket: net.Socket,
  status: number,
  reason: string,
  body: string,
  extraHeaders = '',
): void {
  if (socket.destroyed) return;
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\n${extraHeaders}` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), 1000).unref();
}

/** The worker holding this connection died with its request unanswered: tell the client so, and close. */
export function badGateway(socket: net.Socket): void {
  respondAndClose(
    socket,
    502,
    'Bad Gateway',
    'the worker process serving this request stopped; retry the request\n',
    'islet-error: worker\r\n',
  );
}
