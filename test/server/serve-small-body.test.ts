// Small request bodies (Content-Length up to 64 KB) are read by the front before the function
// starts and enter the isolate with the request. What a client sees must not change: every way of
// reading the body works, and a body that never arrives ends in a clear 408 within the tenant's
// wall-time limit instead of holding a connection, while the server keeps serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startHarness, eventually, type Harness } from './serve-harness';

let h: Harness;
before(async () => {
  h = await startHarness((config) => {
    config.tenants.slow = { limits: { wallMs: 400 } };
  });
  const code = `export default { async fetch(request) {
    const how = new URL(request.url).pathname;
    if (how === '/json') return Response.json({ got: await request.json() });
    if (how === '/bytes') return new Response(String(new Uint8Array(await request.arrayBuffer()).reduce((a, b) => a + b, 0)));
    if (how === '/stream') { let n = 0; for await (const chunk of request.body) n += chunk.length; return new Response(String(n)); }
    if (how === '/ignore') return new Response('answered without reading');
    return new Response(await request.text());
  } };`;
  await h.deploy('echo', { 'index.js': code });
  await h.deploy('slow', { 'index.js': code });
  await eventually(
    async () => (await h.get('echo.localhost')).status === 200 && (await h.get('slow.localhost')).status === 200,
  );
});
after(() => h.close());

test('a small body reaches the function whole, whichever way it is read', async () => {
  const payload = { name: 'islet', list: Array.from({ length: 200 }, (_, i) => i) };
  const json = await h.get('echo.localhost', '/json', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  });
  assert.deepEqual(JSON.parse(json.text), { got: payload });
  const bytes = Buffer.alloc(60 * 1024, 7);
  const summed = await h.get('echo.localhost', '/bytes', { method: 'POST', body: bytes });
  assert.equal(summed.text, String(7 * bytes.length));
  const streamed = await h.get('echo.localhost', '/stream', { method: 'POST', body: bytes });
  assert.equal(streamed.text, String(bytes.length));
  const text = await h.get('echo.localhost', '/text', { method: 'PUT', body: 'héllo wörld' });
  assert.equal(text.text, 'héllo wörld');
  assert.equal(
    (await h.get('echo.localhost', '/ignore', { method: 'POST', body: 'unread' })).text,
    'answered without reading',
  );
});

/** sends headers announcing `declared` bytes and only `sent` of them; resolves with what the server answered */
function partialUpload(host: string, declared: number, sent: number, hangUpAfterMs?: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(h.serving.tenantPort, '127.0.0.1', () => {
      socket.write(`POST /text HTTP/1.1\r\nhost: ${host}\r\ncontent-length: ${declared}\r\n\r\n${'x'.repeat(sent)}`);
      if (hangUpAfterMs !== undefined) setTimeout(() => socket.destroy(), hangUpAfterMs);
    });
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

test('a small body that stops arriving ends in 408 within the wall limit; the server keeps serving', async () => {
  const started = Date.now();
  const answer = await partialUpload('slow.localhost', 100, 40);
  assert.match(answer, /^HTTP\/1\.1 408 /);
  assert.match(answer, /did not arrive in time: 40 of 100 bytes/);
  assert.match(answer, /connection: close/i);
  assert.ok(Date.now() - started < 5000);
  // a client that hangs up halfway is no trouble either
  assert.equal(await partialUpload('echo.localhost', 100, 10, 50), '');
  assert.equal((await h.get('echo.localhost', '/text', { method: 'POST', body: 'still here' })).text, 'still here');
  const line = await h.waitForLog((r) => r.source === 'request' && r.tenant === 'slow' && r.status === 408);
  assert.equal(line.method, 'POST');
});
