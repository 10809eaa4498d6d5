// The limits of a tenant's WebSockets (issue 19), each set low for one tenant of a real islet:
// message size (1009), idle time (1001), the CPU of the work one message starts (1011, the
// isolate lives on), sockets held at once (503 on the next upgrade), messages per second (paced,
// nothing lost), and what outlives the 101: a session's timers, a redeploy that leaves open
// sockets on the old code, and the metrics of open sockets and messages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, startHarness, type Harness } from './serve-harness';
import { Client, connect, open } from './websocket-client';

let h: Harness;
let port: number;

/** an echo whose messages can also burn CPU, report a send's failure, or start a ticker */
const echo = (version = 'v1') => `
export default {
  fetch(request) {
    if (request.headers.get('upgrade') !== 'websocket') return new Response('${version}');
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    let ticker = null;
    server.addEventListener('message', (event) => {
      const data = event.data;
      if (data === 'spin') while (true) {}
      if (typeof data === 'string' && data.startsWith('burn ')) {
        // counted work: the clock stands still while the handler runs, so a loop on Date.now never ends
        let x = 0;
        for (let i = 0; i < Number(data.slice(5)) * 1e5; i++) x = (x * 31 + i) % 1000003;
        if (x < 0) return;
        server.send('burnt');
        return;
      }
      if (data === 'big') {
        try { server.send('x'.repeat(5000)); } catch (e) { server.send(e.constructor.name + ': ' + e.message); }
        return;
      }
      if (data === 'tick') {
        let n = 0;
        ticker = setInterval(() => server.send('tick ' + ++n), 20);
        return;
      }
      server.send(typeof data === 'string' ? '${version} ' + data : data);
    });
    server.addEventListener('close', () => clearInterval(ticker));
    return new Response(null, { status: 101, webSocket: client });
  },
};
`;

before(async () => {
  h = await startHarness((config) => {
    config.tenants = {
      small: { limits: { webSocketMessageBytes: 1024 } },
      idle: { limits: { webSocketIdleMs: 400 } },
      spin: { limits: { webSocketMessageCpuMs: 50, cpuMs: 50 } },
      few: { limits: { webSockets: 2 } },
      paced: { limits: { webSocketMessagesPerSecond: 20 } },
    };
  });
  port = h.serving.tenantPort;
  for (const tenant of ['small', 'idle', 'spin', 'few', 'paced', 'ticker', 'redeploy']) {
    await h.deploy(tenant, { 'index.js': echo() });
    await eventually(async () => (await h.get(`${tenant}.localhost`, '/')).text === 'v1');
  }
});
after(() => h?.close());

test('an inbound message over webSocketMessageBytes closes the socket 1009; an outbound one throws in send()', async () => {
  const client = await open(port, 'small.localhost', '/');
  client.send('x'.repeat(1000));
  assert.equal(await client.message(0), `v1 ${'x'.repeat(1000)}`);
  client.send('big');
  assert.equal(
    await client.message(1),
    'TypeError: WebSocket send(): the message is 5000 bytes, over the limit of 1024 bytes',
  );
  client.send('y'.repeat(2000));
  assert.equal((await client.closing()).code, 1009);
});

test('a socket with no message either way for webSocketIdleMs is closed 1001; traffic keeps it open', async () => {
  const busy = await open(port, 'idle.localhost', '/');
  for (let i = 0; i < 8; i++) {
    busy.send(`keep ${i}`);
    await busy.message(i);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(busy.ws.readyState, busy.ws.OPEN, 'open after 800 ms of traffic, twice the idle time');
  assert.deepEqual(await busy.closing(3000), { code: 1001, reason: 'idle timeout' });
});

test('a message handler that loops forever: cut at the message CPU budget, socket closed 1011, the isolate lives on', async () => {
  const bystander = await open(port, 'spin.localhost', '/');
  const looping = await open(port, 'spin.localhost', '/');
  looping.send('spin');
  assert.equal((await looping.closing()).code, 1011);
  const cut = await h.waitForLog((r) => r.source === 'limit' && r.tenant === 'spin' && r.limit === 'cpu');
  assert.ok(cut.requestId, 'the cut names the request that opened the socket');
  bystander.send('still here');
  assert.equal(await bystander.message(0), 'v1 still here');
  assert.equal((await h.get('spin.localhost', '/')).text, 'v1');
});

test('each inbound message gets its own CPU budget: many cheap messages add up past it without a cut', async () => {
  const client = await open(port, 'spin.localhost', '/');
  // 20 x 5 ms = 100 ms of CPU in all, twice the 50 ms a message may use
  for (let i = 0; i < 20; i++) {
    client.send('burn 5');
    assert.equal(await client.message(i), 'burnt');
  }
  assert.equal(client.ws.readyState, client.ws.OPEN);
  client.ws.close();
  await client.closing();
});

test('past webSockets open at once, an upgrade gets 503 islet-error: websockets; a closed one frees its place', async () => {
  const first = await open(port, 'few.localhost', '/');
  const second = await open(port, 'few.localhost', '/');
  const third = await connect(port, 'few.localhost', '/');
  assert.ok(!(third instanceof Client));
  assert.equal(third.status, 503);
  assert.equal(third.headers['islet-error'], 'websockets');
  first.ws.close();
  await first.closing();
  const again = await eventually(async () => {
    const attempt = await connect(port, 'few.localhost', '/');
    return attempt instanceof Client ? attempt : null;
  });
  assert.ok(again);
  again.send('in');
  assert.equal(await again.message(0), 'v1 in');
  for (const client of [second, again]) client.ws.close();
});

test('past webSocketMessagesPerSecond messages are paced, not dropped', async () => {
  const client = await open(port, 'paced.localhost', '/');
  const started = performance.now();
  for (let i = 0; i < 50; i++) client.send(`m${i}`);
  for (let i = 0; i < 50; i++) assert.equal(await client.message(i, 10_000), `v1 m${i}`);
  // one second's worth (20) passes at once, the other 30 at 20 per second
  assert.ok(performance.now() - started >= 1000, `50 messages at 20/s took ${performance.now() - started} ms`);
  client.ws.close();
  await client.closing();
});

test('the request ends at the 101 but the socket lives on: a timer set in a message keeps sending', async () => {
  const client = await open(port, 'ticker.localhost', '/');
  client.send('tick');
  assert.equal(await client.message(3), 'tick 4');
  client.ws.close();
  await client.closing();
});

test('a redeploy leaves open sockets on the old code while new ones get the new code', async () => {
  const old = await open(port, 'redeploy.localhost', '/');
  await h.deploy('redeploy', { 'index.js': echo('v2') });
  await eventually(async () => (await h.get('redeploy.localhost', '/')).text === 'v2');
  old.send('still');
  assert.equal(await old.message(0), 'v1 still');
  const fresh = await open(port, 'redeploy.localhost', '/');
  fresh.send('new');
  assert.equal(await fresh.message(0), 'v2 new');
  for (const client of [old, fresh]) client.ws.close();
});

test('metrics: islet_websockets_open and islet_websocket_messages_total per tenant and direction', async () => {
  const a = await open(port, 'ticker.localhost', '/');
  const b = await open(port, 'ticker.localhost', '/');
  a.send('one');
  await a.message(0);
  const scrape = (await h.serving.metrics.scrape()).body;
  assert.match(scrape, /^islet_websockets_open\{tenant="ticker"\} 2$/m);
  const inbound = Number(
    /^islet_websocket_messages_total\{tenant="ticker",direction="inbound"\} (\d+)$/m.exec(scrape)?.[1],
  );
  const outbound = Number(
    /^islet_websocket_messages_total\{tenant="ticker",direction="outbound"\} (\d+)$/m.exec(scrape)?.[1],
  );
  assert.ok(inbound >= 2, `inbound ${inbound}`);
  assert.ok(outbound >= 5, `outbound ${outbound}`);
  for (const client of [a, b]) client.ws.close();
  await Promise.all([a.closing(), b.closing()]);
  await eventually(async () =>
    /^islet_websockets_open\{tenant="ticker"\} 0$/m.test((await h.serving.metrics.scrape()).body),
  );
});

test('shutdown closes sockets 1001 after the requests drained; a worker restart closes them 1012', async () => {
  for (const restart of [false, true]) {
    const server = await startHarness();
    await server.deploy('bye', { 'index.js': echo() });
    await eventually(async () => (await server.get('bye.localhost', '/')).text === 'v1');
    const client = await open(server.serving.tenantPort, 'bye.localhost', '/');
    client.send('hi');
    await client.message(0);
    await server.serving.close({ restart });
    assert.equal((await client.closing()).code, restart ? 1012 : 1001);
  }
});
