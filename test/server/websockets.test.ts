// WebSockets accepted by tenant functions (issue 19), through a real islet: a hono chat written
// for Cloudflare Workers and deployed unmodified, where two clients talk through islet; and the
// Workers API a function uses on its own: WebSocketPair, accept, send (text, ArrayBuffer, views),
// close with codes, onmessage-style handlers, MessageEvent data as string or ArrayBuffer, the
// subprotocol and headers of the 101, and the errors Workers throws for misuse.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { deployDirectory } from '../../server/deploy/directory';
import { prepareDeployment } from '../../server/tenants/prepare';
import { eventually, repoRoot, startHarness, type Harness } from './serve-harness';
import { Client, connect, open } from './websocket-client';

let h: Harness;
let port: number;

const api = `
const state = { events: [] };
const log = (line) => state.events.push(line);

function describe(data) {
  if (typeof data === 'string') return 'text ' + data;
  return data.constructor.name + ' ' + data.byteLength + ' [' + new Uint8Array(data).join(',') + ']';
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/state') return Response.json(state);
    if (url.pathname === '/not-upgrade') {
      const [client, server] = Object.values(new WebSocketPair());
      server.accept();
      server.addEventListener('close', (e) => log('refused ' + e.code));
      return new Response(null, { status: 101, webSocket: client });
    }
    if (url.pathname === '/rules') return Response.json(rules());
    if (url.pathname === '/local') return Response.json(await localPair());
    if (request.headers.get('upgrade') !== 'websocket') return new Response('expected a WebSocket', { status: 426 });
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    log('accepted readyState ' + server.readyState);
    server.send('welcome');
    server.onmessage = (event) => {
      const data = event.data;
      log('message ' + describe(data));
      if (data === 'buffer') server.send(new Uint8Array([1, 2, 3]).buffer);
      else if (data === 'view') server.send(new Uint8Array([9, 1, 2, 3, 9]).subarray(1, 4));
      else if (data === 'dataview') server.send(new DataView(new Uint8Array([7, 8]).buffer));
      else if (data === 'close') {
        server.close(3001, 'server done');
        log('after close() readyState ' + server.readyState);
        try { server.send('late'); } catch (e) { log('send after close: ' + e.constructor.name + ': ' + e.message); }
      } else server.send(typeof data === 'string' ? 'echo ' + data : data);
    };
    server.addEventListener('close', (event) => {
      log('close ' + event.code + ' ' + event.reason + ' ' + event.wasClean + ' readyState ' + server.readyState);
    });
    const headers = { 'x-chat': 'yes' };
    if (request.headers.get('sec-websocket-protocol')) headers['sec-websocket-protocol'] = 'chat.v2';
    return new Response(null, { status: 101, webSocket: client, headers });
  },
};

function rules() {
  const out = {};
  const attempt = (name, fn) => {
    try { fn(); out[name] = 'ok'; } catch (e) { out[name] = e.constructor.name + ': ' + e.message; }
  };
  const pair = new WebSocketPair();
  attempt('send before accept', () => pair[1].send('x'));
  attempt('status 200 with a webSocket', () => new Response(null, { status: 200, webSocket: pair[0] }));
  attempt('webSocket that is not one', () => new Response(null, { status: 101, webSocket: {} }));
  attempt('status 101 without a webSocket', () => new Response(null, { status: 101 }));
  pair[1].accept();
  attempt('close code 1005', () => pair[1].close(1005));
  attempt('reason without a code', () => pair[1].close(undefined, 'why'));
  attempt('reason over 123 bytes', () => pair[1].close(1000, 'x'.repeat(124)));
  attempt('return an accepted end', () => new Response(null, { status: 101, webSocket: pair[1] }).webSocket);
  attempt('clone a 101', () => new Response(null, { status: 101, webSocket: pair[0] }).clone());
  out.iterable = [...new WebSocketPair()].map((ws) => ws instanceof WebSocket && ws.readyState).join(',');
  out.constants = [WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED, WebSocket.READY_STATE_OPEN].join(',');
  out.closeEvent = (() => { const e = new CloseEvent('close', { code: 4001, reason: 'r', wasClean: true }); return [e.type, e.code, e.reason, e.wasClean].join(' '); })();
  return out;
}

async function localPair() {
  const [a, b] = Object.values(new WebSocketPair());
  a.accept();
  a.send('early');
  b.accept();
  const text = await new Promise((resolve) => b.addEventListener('message', (e) => resolve(e.data), { once: true }));
  b.binaryType = 'blob';
  a.send(new Uint8Array([5, 6]));
  const blob = await new Promise((resolve) => b.addEventListener('message', (e) => resolve(e.data), { once: true }));
  const closes = [];
  const closed = new Promise((resolve) => a.addEventListener('close', (e) => { closes.push('a ' + e.code + ' ' + e.reason); resolve(); }));
  b.addEventListener('close', (e) => closes.push('b ' + e.code + ' ' + e.reason));
  a.close(4002, 'local');
  await closed;
  return { text, blob: blob.constructor.name + ' ' + blob.size, closes, readyStates: [a.readyState, b.readyState] };
}
`;

before(async () => {
  h = await startHarness();
  port = h.serving.tenantPort;
  await h.deploy('wsapi', { 'index.js': api });
  await deployDirectory(h.serving.store, 'chat', path.join(repoRoot, 'test/fixtures/websockets/hono-chat'), {
    prepare: (m, f) => prepareDeployment(m, f, { memoryMb: 64 }),
  });
  await eventually(async () => (await h.get('chat.localhost', '/')).status === 200);
  await eventually(async () => (await h.get('wsapi.localhost', '/state')).status === 200);
});
after(() => h?.close());

async function events(): Promise<string[]> {
  return JSON.parse((await h.get('wsapi.localhost', '/state')).text).events as string[];
}

test('a hono chat deployed unmodified: two clients exchange messages through islet', async () => {
  const ada = await open(port, 'chat.localhost', '/chat?name=ada');
  const bob = await open(port, 'chat.localhost', '/chat?name=bob');
  ada.send('/join');
  assert.equal(await ada.message(0), 'ada joined');
  bob.send('hello ada');
  assert.equal(await bob.message(0), 'bob joined');
  assert.equal(await ada.message(1), 'bob joined');
  assert.equal(await ada.message(2), 'bob: hello ada');
  assert.equal(await bob.message(1), 'bob: hello ada');
  ada.send('hi bob');
  assert.equal(await bob.message(2), 'ada: hi bob');
  assert.equal((await h.get('chat.localhost', '/')).text, 'chat: 2 members');

  // a binary frame comes back to its sender only, reversed
  ada.send(Buffer.from([1, 2, 3, 4]));
  assert.deepEqual(await ada.message(4), Buffer.from([4, 3, 2, 1]));

  // '/quit' makes the function close ada's socket with its own code; bob hears that ada left
  ada.send('/quit');
  assert.deepEqual(await ada.closing(), { code: 4000, reason: 'bye' });
  assert.equal(await bob.message(3), 'ada left');
  bob.ws.close(1000, 'done');
  assert.equal((await bob.closing()).code, 1000);
  await eventually(async () => (await h.get('chat.localhost', '/')).text === 'chat: 0 members');
});

test('the upgrade request is accounted as a 101 in the request log', async () => {
  const line = await h.waitForLog((r) => r.source === 'request' && r.tenant === 'chat' && r.status === 101);
  assert.equal(line.method, 'GET');
  assert.match(String(line.path), /^\/chat\?name=/);
});

test('text and binary frames: string, ArrayBuffer, typed array views and DataView; MessageEvent data as string or ArrayBuffer', async () => {
  const client = await open(port, 'wsapi.localhost', '/socket');
  assert.equal(await client.message(0), 'welcome', 'a message sent before the 101 went out arrives first');
  assert.equal(client.headers['x-chat'], 'yes', "the function's own 101 headers reach the client");
  assert.ok(client.headers['islet-request-id']);
  client.send('hello');
  assert.equal(await client.message(1), 'echo hello');
  client.send(Buffer.from([0, 255, 7]));
  assert.deepEqual(await client.message(2), Buffer.from([0, 255, 7]));
  client.send('buffer');
  assert.deepEqual(await client.message(3), Buffer.from([1, 2, 3]));
  client.send('view');
  assert.deepEqual(await client.message(4), Buffer.from([1, 2, 3]), 'only the bytes of the view, not its whole buffer');
  client.send('dataview');
  assert.deepEqual(await client.message(5), Buffer.from([7, 8]));
  const seen = await events();
  assert.ok(seen.includes('accepted readyState 1'));
  assert.ok(seen.includes('message text hello'));
  assert.ok(seen.includes('message ArrayBuffer 3 [0,255,7]'), seen.join('\n'));
  client.ws.close();
  await client.closing();
});

test('close codes both ways: the function closes with its code, the client closes with its own', async () => {
  const first = await open(port, 'wsapi.localhost', '/socket');
  first.send('close');
  assert.deepEqual(await first.closing(), { code: 3001, reason: 'server done' });
  await eventually(async () => (await events()).some((e) => e.startsWith('close 3001 server done true')));
  const seen = await events();
  assert.ok(seen.includes('after close() readyState 2'), seen.join('\n'));
  assert.ok(seen.includes("send after close: TypeError: Can't call WebSocket send() after close()."));
  assert.ok(seen.includes('close 3001 server done true readyState 3'), seen.join('\n'));

  const second = await open(port, 'wsapi.localhost', '/socket');
  await second.message(0);
  second.ws.close(4444, 'client leaves');
  assert.equal((await second.closing()).code, 4444);
  await eventually(async () => (await events()).includes('close 4444 client leaves true readyState 3'));
});

test('the subprotocol the function answers with is the one the client gets', async () => {
  const client = await open(port, 'wsapi.localhost', '/socket', { protocols: ['chat.v1', 'chat.v2'] });
  assert.equal(client.ws.protocol, 'chat.v2');
  client.ws.close();
  await client.closing();
});

test('an ordinary answer to an upgrade request is written as it is, and the connection closed', async () => {
  const refused = await connect(port, 'wsapi.localhost', '/state');
  assert.ok(!(refused instanceof Client));
  assert.equal(refused.status, 200);
  assert.match(refused.body, /"events"/);
  const missing = await connect(port, 'nobody.localhost', '/');
  assert.ok(!(missing instanceof Client));
  assert.equal(missing.status, 404);
});

test('a WebSocket returned to a request that did not ask for one: 500, and the accepted end hears 1006', async () => {
  const res = await h.get('wsapi.localhost', '/not-upgrade');
  assert.equal(res.status, 500);
  assert.ok(res.headers['islet-request-id']);
  await eventually(async () => (await events()).includes('refused 1006'));
});

test('a malformed WebSocket handshake is refused with 400 before any function runs', async () => {
  const before = (await events()).length;
  const answer = await raw(
    'GET /socket HTTP/1.1\r\nHost: wsapi.localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
      'Sec-WebSocket-Version: 13\r\n\r\n',
  );
  assert.match(answer, /^HTTP\/1\.1 400 /);
  assert.match(answer, /Sec-WebSocket-Key/);
  assert.equal((await events()).length, before, 'the function never saw it');
});

/** one request written as it is on a new connection; resolves with everything the server sent until it closed */
function raw(request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5 s')));
  });
}

test('misuse throws what Workers throws', async () => {
  const rules = JSON.parse((await h.get('wsapi.localhost', '/rules')).text) as Record<string, string>;
  assert.match(rules['send before accept']!, /^TypeError: You must call accept\(\)/);
  assert.match(rules['status 200 with a webSocket']!, /^RangeError: .*must have status code 101/);
  assert.match(rules['webSocket that is not one']!, /^TypeError/);
  assert.match(rules['status 101 without a webSocket']!, /^RangeError/);
  assert.match(rules['close code 1005']!, /^DOMException: Invalid WebSocket close code: 1005/);
  assert.match(rules['reason without a code']!, /^DOMException: If you specify a WebSocket close reason/);
  assert.match(rules['reason over 123 bytes']!, /^DOMException: .*123 bytes/);
  assert.equal(rules['return an accepted end'], 'ok', 'constructing is fine; answering with it fails');
  assert.match(rules['clone a 101']!, /^TypeError: Cannot clone a response to a WebSocket handshake/);
  assert.equal(rules.iterable, '1,1');
  assert.equal(rules.constants, '0,1,2,3,1');
  assert.equal(rules.closeEvent, 'close 4001 r true');
});

test('both ends of a pair accepted in the function talk to each other', async () => {
  const result = JSON.parse((await h.get('wsapi.localhost', '/local')).text);
  assert.deepEqual(result, {
    text: 'early',
    blob: 'Blob 2',
    closes: ['b 4002 local', 'a 4002 local'],
    readyStates: [3, 3],
  });
});
