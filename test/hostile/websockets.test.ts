// Hostile WebSocket cases (issue 19), against a real islet with a neighbour tenant measured
// during each: its p99 must stay within 2x of its baseline (./latency.ts) and every neighbour
// request must succeed. Floods are sent from a process of their own (./ws-flooder.ts), so that
// the client's work is not the server's.
//
// | case                                            | the attacker gets                                      |
// |-------------------------------------------------|--------------------------------------------------------|
// | inbound message flood over 8 sockets            | paced at webSocketMessagesPerSecond; nothing else      |
// | outbound flood (100,000 x 1 KiB in one handler)  | closed 1013 past webSocketBufferBytes; the host holds  |
// |                                                 | at most that, not the 100 MB sent                      |
// | slow reader (a client that stops reading)       | closed 1013 once its unread bytes pass the limit; the  |
// |                                                 | function hears error + close; the host stays bounded   |
// | 300 upgrades at once past webSockets            | that many open, the rest 503 islet-error: websockets   |
// | new WebSocket() x 1000 in one request           | the ones past webSockets throw                         |
// | message handlers that loop forever (4 sockets)  | each closed 1011 at the message CPU budget; the        |
// |                                                 | isolate answers on; a cpu limit line per cut           |
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { startIslet, attacker, neighbourCode, type Islet } from './islet';
import { measureDuring, neighbourHeld, type NeighbourTarget, type Round } from './latency';
import { open } from '../server/websocket-client';

let islet: Islet;
const plain: NeighbourTarget = { tenant: 'neighbour', path: '/', expect: 'neighbour ok' };

before(async () => {
  islet = await startIslet((config) => {
    config.logRequests = false;
  });
  await islet.deployReady('neighbour', neighbourCode);
});
after(() => islet?.close());

/** the rows of the closing table: case -> what the attacker got, neighbour p99 before/after */
const table: string[] = [];
after(() => {
  if (table.length) console.log(['| case | attacker | neighbour p99 before -> during (ms) |', ...table].join('\n'));
});

function record(name: string, outcome: string, held: { before: number; after: number }): void {
  table.push(`| ${name} | ${outcome} | ${held.before.toFixed(1)} -> ${held.after.toFixed(1)} |`);
}

/** a round of `attack` with the neighbour measured meanwhile, and how much this process (the server) grew */
const during =
  <T>(attack: () => Promise<T>) =>
  async (): Promise<Round<{ answer: T; grewMb: number }>> => {
    global.gc?.();
    const base = process.memoryUsage().rss;
    let peak = base;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
    try {
      const { result, samples } = await measureDuring(islet, plain, attack);
      peak = Math.max(peak, process.memoryUsage().rss);
      return { result: { answer: result, grewMb: (peak - base) / (1 << 20) }, samples };
    } finally {
      clearInterval(timer);
    }
  };

/** flooder processes still running: none outlives the suite, whatever failed */
const flooders = new Set<ChildProcess>();
after(() => {
  for (const child of flooders) child.kill('SIGKILL');
});

/** runs ./ws-flooder.js against `tenant`; resolves with its report (and, for 'sockets', a way to let them go) */
function flooder<T>(tenant: string, mode: 'messages' | 'sockets', n: number, ms = 0): Promise<T & { release(): void }> {
  const child = fork(
    path.join(__dirname, 'ws-flooder.js'),
    [String(islet.serving.tenantPort), `${tenant}.localhost`, mode, String(n), String(ms)],
    { execArgv: [], stdio: 'ignore' },
  );
  flooders.add(child);
  child.once('exit', () => flooders.delete(child));
  return new Promise((resolve, reject) => {
    child.once('message', (report: T & { error?: string }) => {
      if (report.error) reject(new Error(report.error));
      else resolve({ ...report, release: () => child.connected && child.send('close') });
    });
    child.once('exit', (code) => reject(new Error(`the flooder exited (${code}) before reporting`)));
  });
}

/** an attacker that accepts every upgrade; `onMessage` is the body of its message listener (event, server) */
function socketAttacker(onMessage: string, prelude = ''): string {
  return attacker(
    `
    const path = new URL(request.url).pathname;
    if (path === '/state') return Response.json(state);
    if (request.headers.get('upgrade') !== 'websocket') return new Response('no');
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    server.addEventListener('message', (event) => { state.received++; ${onMessage} });
    server.addEventListener('error', (event) => state.errors.push(event.message));
    server.addEventListener('close', (event) => state.closes.push(event.code));
    return new Response(null, { status: 101, webSocket: client });`,
    `const state = { received: 0, errors: [], closes: [], opened: 0, refused: [] };\n${prelude}`,
  );
}

async function state(tenant: string): Promise<{ received: number; errors: string[]; closes: number[] }> {
  return JSON.parse((await islet.hit(tenant, '/state')).text);
}

test('an inbound message flood is paced at webSocketMessagesPerSecond; the neighbour is unaffected', async () => {
  const rate = 500;
  await islet.deployReady('ws-flood', socketAttacker(''), { webSocketMessagesPerSecond: rate });
  const floodMs = 3000;
  const before = (await state('ws-flood')).received;
  const held = await neighbourHeld(
    islet,
    plain,
    during(async () => {
      const started = performance.now();
      const report = await flooder<{ opened: number; sent: number; ends: (number | string)[] }>(
        'ws-flood',
        'messages',
        8,
        floodMs,
      );
      return { report, seconds: (performance.now() - started) / 1000 };
    }),
  );
  const { report, seconds } = held.result.answer;
  const received = (await state('ws-flood')).received - before;
  assert.equal(report.opened, 8);
  assert.ok(report.sent > received, `the flood sent ${report.sent}, more than the function got (${received})`);
  // one second's burst, then the rate, over the time the flood ran
  const bound = rate * (seconds + 1) + 50;
  assert.ok(received <= bound, `the function got ${received} messages in ${seconds.toFixed(1)} s (bound ${bound})`);
  assert.ok(received > 0);
  assert.ok(held.result.grewMb < 64, `the server grew by ${held.result.grewMb.toFixed(0)} MB`);
  record(`inbound flood, 8 sockets, ${report.sent} sent`, `${received} delivered in ${seconds.toFixed(1)} s`, held);
});

test('an outbound flood (100,000 x 1 KiB from one handler) closes the socket 1013; the host never holds it', async () => {
  const code = socketAttacker(`
      if (event.data !== 'flood') return;
      const chunk = 'y'.repeat(1024);
      let thrown = null;
      for (let i = 0; i < 100000; i++) { try { server.send(chunk); } catch (e) { thrown = e.message; break; } }
      state.after = { bufferedAmount: server.bufferedAmount, readyState: server.readyState, thrown };`);
  await islet.deployReady('ws-outflood', code, { cpuMs: 2000, webSocketMessageCpuMs: 2000 });
  const held = await neighbourHeld(
    islet,
    plain,
    during(async () => {
      const client = await open(islet.serving.tenantPort, 'ws-outflood.localhost', '/');
      client.send('flood');
      const closed = await client.closing(20_000);
      return { closed, got: client.received.length };
    }),
  );
  const { closed, got } = held.result.answer;
  assert.equal(closed.code, 1013);
  assert.ok(got < 100_000, `the client got ${got} of the 100,000 messages`);
  assert.ok(held.result.grewMb < 64, `the server grew by ${held.result.grewMb.toFixed(0)} MB (100 MB were sent)`);
  const seen = await state('ws-outflood');
  assert.ok(
    seen.errors.some((e) => /the peer is not reading/.test(e)),
    JSON.stringify(seen),
  );
  record('outbound flood, 100,000 x 1 KiB', `closed ${closed.code} after ${got} messages`, held);
});

test('a slow reader: past webSocketBufferBytes unread the socket is closed 1013, the host stays bounded', async () => {
  const code = socketAttacker(`
      if (event.data !== 'stream') return;
      const chunk = new Uint8Array(64 * 1024);
      const timer = setInterval(() => {
        for (let i = 0; i < 16; i++) server.send(chunk);
        if (server.readyState !== 1) clearInterval(timer);
      }, 5);`);
  await islet.deployReady('ws-slow', code, { webSocketMessagesPerSecond: 1_000_000, webSocketMessageCpuMs: 1000 });
  const held = await neighbourHeld(
    islet,
    plain,
    during(async () => {
      const client = await open(islet.serving.tenantPort, 'ws-slow.localhost', '/');
      client.send('stream');
      // the client stops reading: the server's writes back up into its own buffers
      (client.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      await until(async () => (await state('ws-slow')).closes.length > 0, 20_000);
      client.ws.terminate();
      return state('ws-slow');
    }),
  );
  const seen = held.result.answer;
  assert.deepEqual(seen.closes, [1013], JSON.stringify(seen));
  assert.ok(seen.errors.some((e) => /the peer is not reading/.test(e)));
  assert.ok(held.result.grewMb < 64, `the server grew by ${held.result.grewMb.toFixed(0)} MB`);
  record('slow reader, 64 KiB x 16 every 5 ms', `closed ${seen.closes[0]}`, held);
});

test('a socket count flood: past webSockets upgrades get 503, new WebSocket() throws', async () => {
  const limit = 20;
  const code = socketAttacker(
    '',
    `async function outbound() {
      const out = { opened: 0, refused: [] };
      for (let i = 0; i < 1000; i++) {
        try { new WebSocket('ws://127.0.0.1:9/'); out.opened++; } catch (e) { out.refused.push(e.message); }
      }
      return out;
    }`,
  );
  const withOutbound = code.replace(
    "if (path === '/state')",
    "if (path === '/outbound') return Response.json(await outbound());\n    if (path === '/state')",
  );
  // each new WebSocket() is a bridge call the attacker's CPU pays for: 1000 of them need more than 50 ms
  await islet.deployReady('ws-many', withOutbound, { webSockets: limit, subrequests: 2000, cpuMs: 2000 });
  const held = await neighbourHeld(
    islet,
    plain,
    during(async () => {
      const report = await flooder<{ opened: number; statuses: Record<string, number> }>('ws-many', 'sockets', 300);
      try {
        const answer = await islet.hit('ws-many', '/outbound');
        assert.equal(answer.status, 200, answer.text);
        return { report, outbound: JSON.parse(answer.text) as { opened: number; refused: string[] } };
      } finally {
        report.release();
      }
    }),
  );
  const { report, outbound } = held.result.answer;
  assert.equal(report.opened, limit);
  assert.deepEqual(report.statuses, { 503: 300 - limit });
  assert.equal(outbound.opened, 0, 'the upgrades hold every place: no outbound socket either');
  assert.equal(outbound.refused.length, 1000);
  assert.match(outbound.refused[0]!, /already holds 20 WebSockets, its limit/);
  record(`300 upgrades, webSockets ${limit}`, `${report.opened} open, ${report.statuses[503]} x 503`, held);
});

test('message handlers that loop forever: each socket closed 1011, the isolate answers on', async () => {
  const code = socketAttacker(`if (event.data === 'spin') while (true) {} server.send('ok ' + event.data);`);
  await islet.deployReady('ws-spin', code, { webSocketMessageCpuMs: 50, cpuMs: 50 });
  const held = await neighbourHeld(
    islet,
    plain,
    during(async () => {
      const clients = await Promise.all(
        Array.from({ length: 4 }, () => open(islet.serving.tenantPort, 'ws-spin.localhost', '/')),
      );
      for (const client of clients) client.send('spin');
      return Promise.all(clients.map((client) => client.closing(20_000)));
    }),
  );
  const closes = held.result.answer;
  assert.deepEqual(
    closes.map((c) => c.code),
    [1011, 1011, 1011, 1011],
  );
  const fresh = await open(islet.serving.tenantPort, 'ws-spin.localhost', '/');
  fresh.send('after');
  assert.equal(await fresh.message(0), 'ok after');
  fresh.ws.close();
  const cuts = islet.logs.filter((r) => r.source === 'limit' && r.tenant === 'ws-spin' && r.limit === 'cpu');
  assert.ok(cuts.length >= 4, `${cuts.length} cpu cuts logged`);
  record('4 message handlers looping forever', 'each closed 1011; isolate answers on', held);
});

async function until(probe: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
