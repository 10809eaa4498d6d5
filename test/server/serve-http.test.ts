// The tenant server over real HTTP: routing by host and by route, the URL and headers a function
// sees, env, request ids, errors, malformed requests, modules linked from several files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startHarness, type Harness } from './serve-harness';

let h: Harness;

before(async () => {
  h = await startHarness();
  await h.deploy('echo', 'echo.js');
  await h.deploy(
    'site',
    { 'index.js': "export default { fetch: (r) => new Response('site ' + new URL(r.url).pathname) }" },
    { routes: ['shop.example.com/*'] },
  );
  await h.deploy(
    'api',
    { 'index.js': "export default { fetch: (r) => new Response('api ' + new URL(r.url).pathname) }" },
    { routes: ['shop.example.com/api/*'] },
  );
  await h.deploy('classic', 'classic.js');
  await h.deploy('headers', 'headers.js');
  await h.deploy('multi', {
    'index.js':
      "import { greet } from './lib/greet.js';\nimport { name } from './lib/name.js';\nexport default { fetch: () => new Response(greet(name)) };",
    'lib/greet.js':
      "import { name } from './name.js';\nexport const greet = (n) => 'hello ' + n + (n === name ? '' : ' (two copies of lib/name.js!)');",
    'lib/name.js': "export const name = 'modules';",
  });
});
after(() => h.close());

function raw(payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(h.serving.tenantPort, '127.0.0.1', () => socket.end(payload));
    let data = '';
    socket.on('data', (d) => (data += d));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}

test('a tenant answers on <tenant>.localhost and sees the full original URL and headers', async () => {
  const res = await h.get(`echo.localhost:${h.serving.tenantPort}`, '/a/b?x=1', { headers: { 'x-test': 'yes' } });
  assert.equal(res.status, 200);
  const body = JSON.parse(res.text);
  assert.equal(body.url, `http://echo.localhost:${h.serving.tenantPort}/a/b?x=1`);
  assert.equal(body.method, 'GET');
  assert.equal(body.test, 'yes');
  assert.match(String(res.headers['islet-request-id']), /^[0-9a-f]{32}$/);
});

test('custom routes: longest prefix wins; no match is a plain 404 with a request id', async () => {
  assert.equal((await h.get('shop.example.com', '/cart')).text, 'site /cart');
  assert.equal((await h.get('shop.example.com', '/api/items')).text, 'api /api/items');
  const miss = await h.get('www.example.com', '/');
  assert.equal(miss.status, 404);
  assert.match(miss.text, /no function is deployed at www\.example\.com\//);
  assert.ok(miss.headers['islet-request-id']);
  const unknown = await h.get('nobody.localhost', '/');
  assert.equal(unknown.status, 404);
  assert.match(unknown.text, /no function is deployed for 'nobody'/);
});

test('env vars and secrets reach the function as env', async () => {
  await h.serving.store.putEnv('echo', { vars: { GREETING: 'hi' }, secrets: { API_KEY: 's3cret' } });
  // the store notifies serving within a second; the next isolate gets the new env
  for (let i = 0; i < 60; i++) {
    const body = JSON.parse((await h.get('echo.localhost', '/env')).text);
    if (body.greeting === 'hi') {
      assert.equal(body.secret, 's3cret');
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail('env change not picked up within 3 s');
});

test('an exception in the handler is a 500 with a request id; details only in the log', async () => {
  const res = await h.get('echo.localhost', '/throw');
  assert.equal(res.status, 500);
  const id = String(res.headers['islet-request-id']);
  assert.ok(res.text.includes(id));
  assert.ok(!res.text.includes('7f3a'), 'the tenant error must not leak to the client');
  const logged = await h.waitForLog((r) => r.requestId === id && r.source === 'exception');
  assert.match(String(logged.msg), /tenant-internal detail 7f3a/);
  const line = await h.waitForLog((r) => r.requestId === id && r.msg === 'request');
  assert.equal(line.status, 500);
  assert.equal(line.tenant, 'echo');
});

test('a deployment of several ES modules is linked in the isolate (one instance per file)', async () => {
  const res = await h.get('multi.localhost', '/');
  assert.equal(res.status, 200);
  assert.equal(res.text, 'hello modules');
});

test("a classic script answers through addEventListener('fetch')", async () => {
  const res = await h.get('classic.localhost', '/old-style');
  assert.equal(res.status, 200);
  assert.equal(res.text, 'classic /old-style');
});

test('status and repeated headers reach the client as the function set them; HEAD gets no body', async () => {
  const res = await h.get('headers.localhost', '/');
  assert.equal(res.status, 418);
  assert.deepEqual(res.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
  assert.equal(res.text, 'teapot body');
  const head = await h.get('headers.localhost', '/', { method: 'HEAD' });
  assert.equal(head.status, 418);
  assert.equal(head.headers['x-method'], 'HEAD');
  assert.equal(head.text, '');
});

test('missing or bad Host, malformed request lines and oversized headers get clean 4xx answers', async () => {
  assert.match(await raw('GET / HTTP/1.0\r\n\r\n'), /^HTTP\/1\.1 400 [\s\S]*missing Host header/);
  assert.match(
    await raw('GET / HTTP/1.1\r\nHost: bad_host!\r\nConnection: close\r\n\r\n'),
    /^HTTP\/1\.1 400 [\s\S]*bad Host header/,
  );
  assert.match(
    await raw('GET ftp://echo.localhost/ HTTP/1.1\r\nHost: echo.localhost\r\nConnection: close\r\n\r\n'),
    /^HTTP\/1\.1 400 [\s\S]*bad request target/,
  );
  assert.match(await raw('NOT A REQUEST\r\n\r\n'), /^HTTP\/1\.1 400 Bad Request[\s\S]*malformed request/);
  assert.match(
    await raw(`GET / HTTP/1.1\r\nHost: echo.localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
    /^HTTP\/1\.1 431 /,
  );
  // and the server still serves
  assert.equal((await h.get('echo.localhost', '/')).status, 200);
});

test('an absolute-form request target routes by its authority, which the function sees', async () => {
  const reply = await raw(
    'GET http://echo.localhost:1234/abs?x=1 HTTP/1.1\r\nHost: other.localhost\r\nConnection: close\r\n\r\n',
  );
  assert.match(reply, /^HTTP\/1\.1 200 /);
  assert.match(reply, /"url":"http:\/\/echo\.localhost:1234\/abs\?x=1"/);
});

test('every request leaves one JSON request log line', async () => {
  const res = await h.get('echo.localhost', '/logged?q=1', { method: 'POST', body: 'x' });
  const id = String(res.headers['islet-request-id']);
  const line = await h.waitForLog((r) => r.requestId === id && r.msg === 'request');
  assert.equal(line.method, 'POST');
  assert.equal(line.status, 200);
  assert.equal(typeof line.cpuMs, 'number');
  assert.equal(typeof line.wallMs, 'number');
  assert.equal(line.cold, false);
  assert.ok(String(line.path).startsWith('/logged'));
});
