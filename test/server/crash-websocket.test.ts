// A worker that dies holding an open WebSocket (`islet serve --workers 2`, real processes): the
// supervisor must close that connection, not hand it to another worker as it does an idle
// keep-alive connection. The other worker would read WebSocket frames as HTTP (a 400 written into
// the WebSocket), or, if the client is quiet, leave it open with nobody behind it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ownerSlot } from '../../server/cluster/routing';
import { adminOk, deploy, hit, startClusterIslet, until } from './cluster-islet';
import { open } from './websocket-client';

/** a name the supervisor gives the same worker slot as `tenant` */
function sharing(tenant: string, prefix: string): string {
  const slot = ownerSlot(`${tenant}.localhost`, [0, 1]);
  for (let i = 0; ; i++) if (ownerSlot(`${prefix}${i}.localhost`, [0, 1]) === slot) return `${prefix}${i}`;
}

const echoSource = `export default {
  fetch(request) {
    if (request.headers.get('upgrade') !== 'websocket') return new Response('echo');
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    server.addEventListener('message', (event) => server.send('echo ' + event.data));
    return new Response(null, { status: 101, webSocket: client });
  },
};`;

// a builtin that never checks for termination: the stuck-run watch ends the worker process
const killerSource = `export default { fetch(req) {
  if (new URL(req.url).pathname === '/boom') new Array(3e8).fill(0);
  return new Response('killer ok');
} };`;

test('a WebSocket on a worker that dies is closed, never handed to another worker', async () => {
  const islet = await startClusterIslet({ workers: 2 });
  try {
    const killer = 'killer';
    const echo = sharing(killer, 'echo');
    await deploy(islet, killer, killerSource);
    await adminOk(islet, 'PATCH', `/v1/tenants/${killer}`, {
      limits: { memoryMb: 16, cpuMs: 60_000, wallMs: 120_000 },
    });
    await deploy(islet, echo, echoSource);
    const client = await open(islet.port, `${echo}.localhost`, '/');
    client.send('one');
    assert.equal(await client.message(0), 'echo one');

    const ready = () => [...islet.output().matchAll(/"msg":"worker ready"/g)].length;
    const before = ready();
    const boom = await hit(islet, `${killer}.localhost`, '/boom', { timeoutMs: 60_000 });
    assert.equal(boom.status, 502, `the killer's own request: ${boom.status} ${boom.text}`);
    await until('the worker replaced', () => (ready() > before ? true : undefined), 60_000);

    // the client learns its WebSocket is gone (no close frame could be sent: 1006)
    const closed = await client.closing(10_000);
    assert.equal(closed.code, 1006);
    assert.deepEqual(client.received, ['echo one'], 'nothing else arrived on the socket (no HTTP 400 as a frame)');
    // and a new one works, on the replacement worker
    const again = await open(islet.port, `${echo}.localhost`, '/');
    again.send('two');
    assert.equal(await again.message(0), 'echo two');
    again.ws.close();
  } finally {
    await islet.stop();
  }
});
