// WebSockets a tenant function opens (issue 19): `new WebSocket(url)` and fetch() with
// `Upgrade: websocket`, made by `ws` on the host behind the egress guard. A local `ws` echo
// server on 127.0.0.2 is allowed through `egress.allow`; the same server on 127.0.0.1 is not
// (loopback is refused unless allowed, after DNS), and never sees a connection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { eventually, startHarness, type Harness } from './serve-harness';
import { open } from './websocket-client';

let h: Harness;
let allowed: EchoServer;
let refused: EchoServer;

interface EchoServer {
  url: string;
  /** upgrades accepted so far, and the first message of each */
  connections: number;
  headers: http.IncomingHttpHeaders[];
  close(): Promise<void>;
}

/** echoes every message; '/plain' answers an upgrade with an ordinary 200 instead */
async function echoServer(host: string): Promise<EchoServer> {
  const wss = new WebSocketServer({ noServer: true });
  const server = http.createServer((_req, res) => res.end('plain http'));
  const echo: EchoServer = { url: '', connections: 0, headers: [], close: async () => {} };
  server.on('upgrade', (req, socket, head) => {
    if (req.url === '/plain') {
      socket.end(
        'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 11\r\nconnection: close\r\n\r\nnot for you',
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      echo.connections++;
      echo.headers.push(req.headers);
      ws.on('message', (data, isBinary) => ws.send(isBinary ? data : `echo ${data.toString()}`));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  echo.url = `ws://${host}:${(server.address() as AddressInfo).port}`;
  echo.close = () =>
    new Promise((resolve) => {
      for (const client of wss.clients) client.terminate();
      server.close(() => resolve());
    });
  return echo;
}

const code = `
export default {
  async fetch(request) {
    const url = new URL(request.url);
    const to = url.searchParams.get('to');
    if (url.pathname === '/open') return Response.json(await talk(new WebSocket(to)));
    if (url.pathname === '/fetch') {
      let res;
      try {
        res = await fetch(to, { headers: { Upgrade: 'websocket', 'x-from': 'tenant' } });
      } catch (e) {
        return new Response('rejected ' + e.name + ': ' + e.message);
      }
      if (!res.webSocket) return new Response('ordinary ' + res.status + ' ' + (await res.text()));
      const ws = res.webSocket;
      let early;
      try { ws.send('x'); } catch (e) { early = e.constructor.name; }
      ws.accept();
      ws.send('via fetch');
      ws.send(new Uint8Array([4, 2]));
      const replies = [];
      await new Promise((resolve) => ws.addEventListener('message', (e) => {
        replies.push(typeof e.data === 'string' ? e.data : 'bytes ' + new Uint8Array(e.data).join(','));
        if (replies.length === 2) resolve();
      }));
      ws.close(1000, 'thanks');
      return Response.json({ status: res.status, early, replies });
    }
    if (request.headers.get('upgrade') === 'websocket') {
      // a relay: the client's socket on one side, the echo server on the other
      const [client, server] = Object.values(new WebSocketPair());
      server.accept();
      const upstream = new WebSocket(to);
      const ready = new Promise((resolve) => upstream.addEventListener('open', resolve));
      server.addEventListener('message', async (e) => { await ready; upstream.send(e.data); });
      upstream.addEventListener('message', (e) => server.send(e.data));
      server.addEventListener('close', () => upstream.close());
      return new Response(null, { status: 101, webSocket: client });
    }
    return new Response('?', { status: 404 });
  },
};

function talk(ws) {
  const events = ['readyState ' + ws.readyState];
  return new Promise((resolve) => {
    ws.addEventListener('open', () => { events.push('open readyState ' + ws.readyState); ws.send('hello'); });
    ws.addEventListener('message', (e) => { events.push('message ' + e.data); ws.close(1000, 'done'); });
    ws.addEventListener('error', (e) => events.push('error ' + e.message));
    ws.addEventListener('close', (e) => { events.push('close ' + e.code); resolve(events); });
  });
}
`;

before(async () => {
  allowed = await echoServer('127.0.0.2');
  refused = await echoServer('127.0.0.1');
  h = await startHarness((config) => {
    config.egress.allow = ['127.0.0.2'];
  });
  await h.deploy('outbound', { 'index.js': code });
  await eventually(async () => (await h.get('outbound.localhost', '/nothing')).status === 404);
});
after(async () => {
  await h?.close();
  await allowed?.close();
  await refused?.close();
});

const ask = async (p: string, to: string) =>
  (await h.get('outbound.localhost', `${p}?to=${encodeURIComponent(to)}`)).text;

test('new WebSocket(url) to a server egress.allow lists: open, messages both ways, close', async () => {
  const events = JSON.parse(await ask('/open', allowed.url));
  assert.deepEqual(events, ['readyState 0', 'open readyState 1', 'message echo hello', 'close 1000']);
});

test('new WebSocket(url) to loopback not allowed: refused after DNS, an error and a 1006 close, no connection made', async () => {
  const before = refused.connections;
  const events = JSON.parse(await ask('/open', refused.url));
  assert.equal(events[0], 'readyState 0');
  assert.match(events[1], /^error WebSocket to 127\.0\.0\.1 refused: 127\.0\.0\.1 is a loopback, private/);
  assert.equal(events[2], 'close 1006');
  const viaName = JSON.parse(await ask('/open', refused.url.replace('127.0.0.1', 'localhost')));
  assert.match(viaName[1], /^error WebSocket to localhost refused: .* is a loopback/);
  assert.equal(refused.connections, before, 'the server on 127.0.0.1 never saw a connection');
});

test('fetch() with Upgrade: websocket resolves to a 101 whose webSocket is accepted before use', async () => {
  const result = JSON.parse(await ask('/fetch', allowed.url.replace('ws:', 'http:')));
  assert.deepEqual(result, { status: 101, early: 'TypeError', replies: ['echo via fetch', 'bytes 4,2'] });
  assert.equal(allowed.headers.at(-1)?.['x-from'], 'tenant', "the function's headers went with the handshake");
});

test('fetch() with Upgrade: websocket to a server that answers 200 gets that ordinary Response', async () => {
  assert.equal(await ask('/fetch', `${allowed.url.replace('ws:', 'http:')}/plain`), 'ordinary 200 not for you');
});

test('fetch() with Upgrade: websocket to loopback not allowed rejects with the egress reason', async () => {
  const answer = await ask('/fetch', refused.url.replace('ws:', 'http:'));
  assert.match(answer, /^rejected TypeError: WebSocket to 127\.0\.0\.1 refused/);
});

test('a function relays between the client it accepted and a server it opened', async () => {
  const client = await open(h.serving.tenantPort, 'outbound.localhost', `/relay?to=${encodeURIComponent(allowed.url)}`);
  client.send('through');
  assert.equal(await client.message(0), 'echo through');
  client.send(Buffer.from([1, 2]));
  assert.deepEqual(await client.message(1), Buffer.from([1, 2]));
  const upstreams = allowed.connections;
  client.ws.close(1000);
  await client.closing();
  assert.ok(upstreams >= 1);
});
