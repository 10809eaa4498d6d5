// The network side of `islet dev --inspect`, on a worker thread of its own: the HTTP endpoints
// Chrome DevTools discovers targets with (/json/version, /json/list) and the WebSocket it then
// speaks the DevTools protocol over, on 127.0.0.1 only. It runs on its own thread because a
// tenant paused at a breakpoint holds Node's main thread (islet enters isolates synchronously):
// this thread keeps reading DevTools' messages and hands them over through a MessagePort plus a
// shared counter the main thread can wait on (dev-inspector.ts) while its event loop is stopped.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { WebSocketServer, type WebSocket } from 'ws';

export interface InspectorIoData {
  port: number;
  /** the channel to the main thread (transferred) */
  channel: MessagePort;
  /** Int32Array[0] is bumped after every message posted to the main thread */
  signal: SharedArrayBuffer;
  targetId: string;
  title: string;
  url: string;
  version: string;
}

/** thread -> main */
export type ToMain =
  | { type: 'open'; conn: number }
  | { type: 'message'; conn: number; data: string }
  | { type: 'close'; conn: number };
/** main -> thread */
export type ToIo = { type: 'send'; conn: number; data: string } | { type: 'close'; conn: number };

function serve(data: InspectorIoData): void {
  const flag = new Int32Array(data.signal);
  const toMain = (message: ToMain) => {
    data.channel.postMessage(message);
    Atomics.add(flag, 0, 1);
    Atomics.notify(flag, 0);
  };
  const sockets = new Map<number, WebSocket>();
  let nextConn = 1;
  const server = http.createServer();
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 * 1024 });
  const target = (host: string) => ({
    description: 'islet dev tenant isolate',
    id: data.targetId,
    title: data.title,
    type: 'node',
    url: data.url,
    devtoolsFrontendUrl: `devtools://devtools/bundled/js_app.html?experiments=true&v8only=true&ws=${host}/${data.targetId}`,
    devtoolsFrontendUrlCompat: `devtools://devtools/bundled/inspector.html?experiments=true&v8only=true&ws=${host}/${data.targetId}`,
    webSocketDebuggerUrl: `ws://${host}/${data.targetId}`,
  });
  // a page on another site must not drive the debugger through the browser (DNS rebinding):
  // only loopback names are accepted as Host, as Node's own inspector does
  const hostOk = (host: string | undefined) => !!host && /^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/i.test(host);
  server.on('request', (req, res) => {
    const json = (value: unknown, status = 200) =>
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(value));
    if (!hostOk(req.headers.host)) return json({ error: 'the Host must be 127.0.0.1 or localhost' }, 403);
    const where = (req.url ?? '/').split('?')[0];
    const self = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    if (where === '/json/version') return json({ Browser: `islet/${data.version}`, 'Protocol-Version': '1.3' });
    if (where === '/json' || where === '/json/list') return json([target(self)]);
    return json({ error: `no such endpoint: ${where} (try /json/list)` }, 404);
  });
  server.on('upgrade', (req, socket, head) => {
    if (!hostOk(req.headers.host) || (req.url ?? '') !== `/${data.targetId}`) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = nextConn++;
      sockets.set(conn, ws);
      toMain({ type: 'open', conn });
      ws.on('message', (raw) => toMain({ type: 'message', conn, data: raw.toString() }));
      ws.on('close', () => {
        sockets.delete(conn);
        toMain({ type: 'close', conn });
      });
      ws.on('error', () => ws.terminate());
    });
  });
  data.channel.on('message', (message: ToIo) => {
    const ws = sockets.get(message.conn);
    if (!ws) return;
    if (message.type === 'send') ws.send(message.data);
    else ws.close(1001, 'the inspected isolate went away');
  });
  server.on('error', (error) => parentPort?.postMessage({ type: 'error', message: error.message }));
  server.listen(data.port, '127.0.0.1', () =>
    parentPort?.postMessage({ type: 'listening', port: (server.address() as AddressInfo).port }),
  );
}

if (parentPort && workerData?.channel) serve(workerData as InspectorIoData);
