// WebSocket upgrades at the front. node:http hands a request with an `Upgrade` header to the
// server's 'upgrade' event with the raw socket; the front sends it through the ordinary path
// anyway (routing, the tenant's isolate, limits, accounting), with a ServerResponse written on
// that socket, so that an answer other than a 101 (a 426, a redirect, a limit's 503) is written
// as any other and the connection closed after it. When the function answers 101 with a
// WebSocket, the socket leaves the ServerResponse and `ws` (noServer mode) writes the handshake
// and does the framing from then on; the host socket the isolate's end belongs to gets the
// connection (host/websockets/). The socket came through the supervisor like any other: it
// hands over connections before anything is parsed.
import http, { type IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { InvalidResponseError } from '../errors';
import type { SandboxResponse, UpgradeSocket } from '../host/types';

/** the connection of an upgrade request, and the bytes the client sent after its head */
export interface Upgrade {
  socket: Duplex;
  head: Buffer;
}

/** the request asks for a WebSocket (`Upgrade: websocket`) */
export function wantsWebSocket(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
}

const keyPattern = /^[+/0-9A-Za-z]{22}==$/;

/** what is wrong with a WebSocket handshake request (RFC 6455 4.2.1), or null */
export function handshakeProblem(req: IncomingMessage): string | null {
  if (req.method !== 'GET') return `a WebSocket handshake must be a GET, not ${req.method}`;
  if (!keyPattern.test(req.headers['sec-websocket-key'] ?? '')) return 'missing or invalid Sec-WebSocket-Key header';
  const version = req.headers['sec-websocket-version'];
  if (version !== '13' && version !== '8') return 'missing or unsupported Sec-WebSocket-Version header (13 expected)';
  return null;
}

/** A response written on an upgrade request's socket: it closes the connection once written. */
export function upgradeResponse(req: IncomingMessage, upgrade: Upgrade): ServerResponse {
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(upgrade.socket as Socket);
  res.once('finish', () => upgrade.socket.end());
  upgrade.socket.on('error', () => upgrade.socket.destroy());
  return res;
}

/** headers of the function's 101 that the handshake itself writes, or that belong to the connection */
const handshakeHeaders = new Set([
  'connection',
  'upgrade',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'te',
  'trailer',
  'proxy-connection',
  'sec-websocket-accept',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
  'islet-request-id',
  'islet-error',
]);

/** per upgrade: the subprotocol the function chose, and its other headers as handshake lines */
const chosen = new WeakMap<IncomingMessage, { protocol: string | null; lines: string[] }>();

/** one `ws` server per message size limit (its maxPayload), made on first use */
const servers = new Map<number, WebSocketServer>();

function serverFor(maxPayload: number): WebSocketServer {
  let server = servers.get(maxPayload);
  if (!server) {
    server = new WebSocketServer({
      noServer: true,
      maxPayload,
      // compression costs the host CPU and memory a tenant's peer would choose: not offered
      perMessageDeflate: false,
      clientTracking: false,
      // one message per turn of the event loop: a burst in one TCP read cannot run ahead of the rate
      allowSynchronousEvents: false,
      handleProtocols: (offered, req) => {
        const protocol = chosen.get(req)?.protocol;
        return protocol && offered.has(protocol) ? protocol : false;
      },
    });
    server.on('headers', (lines, req) => {
      for (const line of chosen.get(req)?.lines ?? []) lines.push(line);
    });
    servers.set(maxPayload, server);
  }
  return server;
}

/**
 * The function answered `req` with a 101 and a WebSocket: writes the handshake (with the
 * function's headers) and hands the connection to the isolate's socket. Throws
 * InvalidResponseError, with nothing written, when the request did not ask for a WebSocket or a
 * header cannot be sent; the socket is refused then.
 */
export function completeUpgrade(
  req: IncomingMessage,
  res: ServerResponse,
  upgrade: Upgrade | undefined,
  response: SandboxResponse & { webSocket: UpgradeSocket },
  requestId: string,
  maxPayload: number,
): void {
  const socket = response.webSocket;
  if (!upgrade || !wantsWebSocket(req) || handshakeProblem(req) !== null) {
    socket.refuse('the request did not ask for a WebSocket');
    throw new InvalidResponseError(
      'the function returned a WebSocket in a response to a request without the header "Upgrade: websocket"',
    );
  }
  let protocol: string | null = null;
  const lines: string[] = [];
  const headers = response.headers;
  try {
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      if (name === 'sec-websocket-protocol') protocol = value.trim();
      if (handshakeHeaders.has(name)) continue;
      http.validateHeaderName(name);
      http.validateHeaderValue(name, value);
      lines.push(`${name}: ${value}`);
    }
  } catch (error) {
    socket.refuse('the function answered with a header that cannot be sent');
    throw new InvalidResponseError((error as Error).message);
  }
  lines.push(`islet-request-id: ${requestId}`);
  chosen.set(req, { protocol, lines });
  // the socket is the WebSocket's from now on, no longer the ServerResponse's
  res.detachSocket(upgrade.socket as Socket);
  res.emit('close');
  let attached = false;
  upgrade.socket.once('close', () => {
    if (!attached) socket.refuse('the client left before the upgrade');
  });
  serverFor(maxPayload).handleUpgrade(req, upgrade.socket, upgrade.head, (ws) => {
    attached = true;
    socket.attach(ws);
  });
}
