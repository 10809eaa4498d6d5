// Outbound WebSockets: `new WebSocket(url)` and fetch() with `Upgrade: websocket`, opened by `ws`
// on the host behind the egress guard. The name is resolved and checked first (loopback, private,
// link-local and metadata addresses refused unless `egress.allow` lists them), and the connection
// goes to the checked address only: `ws` gets a lookup that answers with it, so no second DNS
// answer can point it elsewhere. Redirects are not followed; compression is not offered.
import { WebSocket as NodeWebSocket } from 'ws';
import type { IncomingMessage } from 'node:http';
import type { LookupFunction } from 'node:net';
import type { EgressGuard } from '../egress';
import type { HostSocket } from './socket';

export interface OutboundRequest {
  /** a ws:, wss:, http: or https: URL (checked by the caller) */
  url: URL;
  protocols: string[];
  /** the function's own request headers, flat pairs (the handshake's are islet's) */
  headers: string[];
  timeoutMs: number;
  maxPayload: number;
}

/** what a fetch() that asked for an upgrade gets of an ordinary answer's body */
const ANSWER_BODY_BYTES = 64 * 1024;

/** headers the handshake owns: the function's values would break it or lie about the connection */
const handshakeHeaders = new Set([
  'host',
  'connection',
  'upgrade',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'content-length',
  'proxy-connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
  'sec-websocket-accept',
  'sec-websocket-protocol',
]);

/** the function's headers as `ws` takes them, and the subprotocols a Sec-WebSocket-Protocol header named */
export function handshakeInput(
  headers: string[],
  protocols: string[],
): { headers: Record<string, string>; protocols: string[] } {
  const out: Record<string, string> = {};
  let named = protocols;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i]!.toLowerCase();
    if (name === 'sec-websocket-protocol' && protocols.length === 0) {
      named = headers[i + 1]!.split(',')
        .map((p) => p.trim())
        .filter(Boolean);
    }
    if (handshakeHeaders.has(name) || name.startsWith('proxy-')) continue;
    out[name] = out[name] === undefined ? headers[i + 1]! : `${out[name]}, ${headers[i + 1]}`;
  }
  return { headers: out, protocols: named };
}

/** a lookup that answers every query with the address the guard checked */
function fixedLookup(address: string, family: number): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  }) as unknown as LookupFunction;
}

/**
 * Opens `request` for `socket`: `connected`, `answered` (an ordinary answer to a fetch()) or
 * `connectFailed` follows. `onStatus` hears the handshake's status (0: refused or failed) once.
 */
export function connectOutbound(
  socket: HostSocket,
  guard: EgressGuard,
  request: OutboundRequest,
  forFetch: boolean,
  onStatus: (status: number) => void,
): void {
  const { url } = request;
  const host = url.hostname;
  let reported = false;
  const report = (status: number) => {
    if (reported) return;
    reported = true;
    onStatus(status);
  };
  guard.resolve(host).then(
    ({ address, family }) => {
      if (socket.ended) return;
      const { headers, protocols } = handshakeInput(request.headers, request.protocols);
      let ws: NodeWebSocket;
      try {
        ws = new NodeWebSocket(url.href, protocols, {
          headers,
          maxPayload: request.maxPayload,
          perMessageDeflate: false,
          handshakeTimeout: request.timeoutMs,
          followRedirects: false,
          allowSynchronousEvents: false,
          lookup: fixedLookup(address, family),
        });
      } catch (error) {
        report(0);
        socket.connectFailed(`WebSocket to ${url.href} failed: ${(error as Error).message}`);
        return;
      }
      let settled = false;
      ws.once('open', () => {
        settled = true;
        report(101);
        socket.connected(ws);
      });
      ws.once('unexpected-response', (req, res: IncomingMessage) => {
        settled = true;
        report(res.statusCode ?? 0);
        const status = res.statusCode ?? 0;
        if (!forFetch) {
          res.destroy();
          req.destroy();
          socket.connectFailed(
            `WebSocket to ${url.href} failed: the server answered ${status} instead of 101 Switching Protocols`,
          );
          return;
        }
        readAnswer(res).then((body) => {
          req.destroy();
          socket.answered([status, res.statusMessage ?? '', flatHeaders(res.rawHeaders), body]);
        });
      });
      ws.on('error', (error) => {
        if (settled) return;
        settled = true;
        report(0);
        socket.connectFailed(`WebSocket to ${url.href} failed: ${error.message}`);
      });
    },
    (error: Error) => {
      report(0);
      socket.connectFailed(`WebSocket ${error.message.replace(/^fetch /, '')}`);
    },
  );
}

/** an ordinary answer's body, up to ANSWER_BODY_BYTES (the rest is dropped with the connection) */
function readAnswer(res: IncomingMessage): Promise<Uint8Array | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const done = () => {
      res.destroy();
      resolve(total === 0 ? null : new Uint8Array(Buffer.concat(chunks, Math.min(total, ANSWER_BODY_BYTES))));
    };
    res.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      total += chunk.byteLength;
      if (total >= ANSWER_BODY_BYTES) done();
    });
    res.once('end', done);
    res.once('error', done);
    res.once('close', done);
  });
}

function flatHeaders(raw: string[]): string[] {
  const flat: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) flat.push(raw[i]!.toLowerCase(), raw[i + 1]!);
  return flat;
}
