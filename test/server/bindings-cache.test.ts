// The Cache API through a real islet: a Cache API worker deployed with its wrangler.toml, the
// rules Cloudflare documents for what put() keeps and for how long (Cache-Control, Expires,
// Set-Cookie, default TTLs by status), conditional matches answering 304, put() refusals,
// delete, named caches, tenants that never see each other's responses, hit/miss metrics, and
// responses that are still there after a restart (they live on disk).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { deployProject } from './bindings-helpers';
import { type Harness, startHarness } from './serve-harness';

let h: Harness;

before(async () => {
  h = await startHarness();
});
after(() => h.close());

/** a worker that stores the response described by the query (status, headers) under its URL, or matches it */
const cacheLab = `
export default {
  async fetch(request) {
    const url = new URL(request.url);
    const cache = url.searchParams.get('cache') ? await caches.open(url.searchParams.get('cache')) : caches.default;
    const key = 'https://cached.example/' + url.pathname.slice(1);
    const op = url.searchParams.get('op');
    try {
      if (op === 'put') {
        const headers = JSON.parse(url.searchParams.get('headers') || '{}');
        const status = Number(url.searchParams.get('status') || 200);
        await cache.put(key, new Response(status === 304 ? null : 'body of ' + url.pathname, { status, headers }));
        return new Response('put');
      }
      if (op === 'delete') return new Response(String(await cache.delete(key)));
      const request2 = new Request(key, { headers: request.headers, method: url.searchParams.get('method') || 'GET' });
      const hit = await cache.match(request2, { ignoreMethod: url.searchParams.has('ignoreMethod') });
      if (!hit) return new Response('miss', { status: 404 });
      return new Response(hit.body, { status: hit.status === 304 ? 200 : hit.status, headers: { 'x-status': String(hit.status), 'x-headers': JSON.stringify([...hit.headers]) } });
    } catch (e) {
      return new Response(e.name + ': ' + e.message, { status: 500 });
    }
  },
};
`;

async function put(tenant: string, path: string, headers: Record<string, string>, extra = '') {
  const q = `?op=put&headers=${encodeURIComponent(JSON.stringify(headers))}${extra}`;
  return h.get(`${tenant}.localhost`, `${path}${q}`);
}
const match = (tenant: string, path: string, headers: Record<string, string> = {}, extra = '') =>
  h.get(`${tenant}.localhost`, `${path}?op=match${extra}`, { headers });

test('a Cache API worker deployed with its wrangler.toml: the first request renders, the next ones hit', async () => {
  await deployProject(h, 'cache-worker', 'cache-worker');
  const first = await h.get('cache-worker.localhost', '/page');
  assert.equal(first.status, 200, first.text);
  assert.equal(first.headers['x-cache'], 'MISS');
  for (let i = 0; i < 3; i++) {
    const again = await h.get('cache-worker.localhost', '/page');
    assert.equal(again.headers['x-cache'], 'HIT');
    assert.equal(again.headers['cf-cache-status'], 'HIT');
    assert.equal(again.text, first.text, 'the same rendering');
  }
  assert.equal((await h.get('cache-worker.localhost', '/other')).headers['x-cache'], 'MISS', 'another URL');
  const scrape = await h.serving.metrics.scrape();
  assert.match(scrape.body, /islet_cache_requests_total\{tenant="cache-worker",result="hit"\} 3/);
  assert.match(scrape.body, /islet_cache_requests_total\{tenant="cache-worker",result="miss"\} 2/);
});

test("what put() keeps: Cache-Control, Expires, Set-Cookie and Cloudflare's default TTLs by status", async () => {
  await deployProject(h, 'cachelab', { 'index.js': cacheLab });
  const cases: [string, Record<string, string>, boolean, string?][] = [
    ['max-age', { 'cache-control': 'max-age=60' }, true],
    ['s-maxage', { 'cache-control': 's-maxage=60' }, true],
    ['no-store', { 'cache-control': 'no-store, max-age=60' }, false],
    ['private', { 'cache-control': 'private, max-age=60' }, false],
    ['no-cache', { 'cache-control': 'no-cache' }, false],
    ['max-age-0', { 'cache-control': 'max-age=0' }, false],
    ['expires-future', { expires: new Date(Date.now() + 60_000).toUTCString() }, true],
    ['expires-past', { expires: new Date(Date.now() - 60_000).toUTCString() }, false],
    ['expires-bad', { expires: '0' }, false],
    ['cookie', { 'cache-control': 'max-age=60', 'set-cookie': 'a=1' }, false],
    ['private-cookie', { 'cache-control': 'max-age=60, private=Set-Cookie', 'set-cookie': 'a=1' }, true],
    ['default-200', {}, true],
    ['default-500', {}, false, '&status=500'],
    ['default-404', {}, true, '&status=404'],
    ['not-modified', { 'cache-control': 'max-age=60' }, false, '&status=304'],
  ];
  for (const [name, headers, kept, extra] of cases) {
    assert.equal((await put('cachelab', `/${name}`, headers, extra)).text, 'put', name);
    const res = await match('cachelab', `/${name}`);
    assert.equal(
      res.status === 200 || res.headers['x-status'] === '404',
      kept,
      `${name}: ${kept ? 'kept' : 'not kept'} (${res.status} ${res.text})`,
    );
  }
  const cookie = await match('cachelab', '/private-cookie');
  assert.ok(
    !JSON.parse(cookie.headers['x-headers'] as string).some(([n]: [string]) => n === 'set-cookie'),
    'Set-Cookie dropped',
  );
});

test('s-maxage wins over max-age, and an expired response is gone', async () => {
  await put('cachelab', '/short', { 'cache-control': 'max-age=600, s-maxage=1' });
  assert.equal((await match('cachelab', '/short')).status, 200);
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal((await match('cachelab', '/short')).status, 404);
});

test('conditional matches: If-None-Match against the ETag, If-Modified-Since against Last-Modified', async () => {
  const modified = new Date(Date.now() - 3600_000).toUTCString();
  await put('cachelab', '/cond', { 'cache-control': 'max-age=60', etag: 'W/"v1"', 'last-modified': modified });
  const status = async (headers: Record<string, string>) =>
    (await match('cachelab', '/cond', headers)).headers['x-status'];
  assert.equal(await status({ 'if-none-match': '"v1"' }), '304', 'weak comparison');
  assert.equal(await status({ 'if-none-match': '"v0", W/"v1"' }), '304');
  assert.equal(await status({ 'if-none-match': '*' }), '304');
  assert.equal(await status({ 'if-none-match': '"v2"' }), '200');
  assert.equal(await status({ 'if-modified-since': new Date().toUTCString() }), '304');
  assert.equal(await status({ 'if-modified-since': new Date(Date.now() - 7200_000).toUTCString() }), '200');
  const notModified = await match('cachelab', '/cond', { 'if-none-match': '"v1"' });
  assert.equal(notModified.text, '', '304 has no body');
  const names = JSON.parse(notModified.headers['x-headers'] as string).map(([n]: [string]) => n);
  assert.ok(names.includes('etag') && names.includes('last-modified') && !names.includes('content-type'), names.join());
});

test('put() refusals, delete, named caches and ignoreMethod', async () => {
  const refusals = await deployProject(h, 'cacheapi', {
    'index.js': `
export default {
  async fetch() {
    const out = {};
    const tries = {
      post: () => caches.default.put(new Request('https://x.example/a', { method: 'POST' }), new Response('x')),
      partial: () => caches.default.put('https://x.example/a', new Response('x', { status: 206 })),
      varyStar: () => caches.default.put('https://x.example/a', new Response('x', { headers: { vary: '*' } })),
      notResponse: () => caches.default.put('https://x.example/a', 'x'),
      errorResponse: () => caches.default.put('https://x.example/a', Response.error()),
      relative: () => caches.default.match('/relative'),
    };
    for (const [name, f] of Object.entries(tries)) {
      try { await f(); out[name] = 'ok'; } catch (e) { out[name] = e.name + ': ' + e.message; }
    }
    const named = await caches.open('mine');
    await named.put('https://x.example/n', new Response('named', { headers: { 'cache-control': 'max-age=60' } }));
    out.inDefault = (await caches.default.match('https://x.example/n')) === undefined ? 'absent' : 'present';
    out.inNamed = await (await named.match('https://x.example/n')).text();
    out.sameObject = (await caches.open('mine')) === named;
    out.head = (await named.match(new Request('https://x.example/n', { method: 'HEAD' }))) === undefined;
    out.headIgnored = (await named.match(new Request('https://x.example/n', { method: 'HEAD' }), { ignoreMethod: true })).status;
    out.deleted = await named.delete('https://x.example/n');
    out.deletedAgain = await named.delete('https://x.example/n');
    out.after = (await named.match('https://x.example/n')) === undefined;
    return Response.json(out);
  },
};`,
  });
  void refusals;
  const res = await h.get('cacheapi.localhost', '/');
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(JSON.parse(res.text), {
    post: 'TypeError: Cannot cache response to non-GET request.',
    partial: 'TypeError: Cannot cache response to a range request (206 Partial Content).',
    varyStar: "TypeError: Cannot cache response with 'Vary: *' header.",
    notResponse: "TypeError: Failed to execute 'put' on 'Cache': parameter 2 is not of type 'Response'.",
    errorResponse: 'TypeError: Cache is unable to store an error response',
    relative: JSON.parse(res.text).relative,
    inDefault: 'absent',
    inNamed: 'named',
    sameObject: true,
    head: true,
    headIgnored: 200,
    deleted: true,
    deletedAgain: false,
    after: true,
  });
  assert.match(JSON.parse(res.text).relative, /^TypeError/);
});

test("a tenant never sees another tenant's cached responses under the same URL and cache name", async () => {
  await put('cachelab', '/shared', { 'cache-control': 'max-age=60' }, '&cache=common');
  await deployProject(h, 'cacheother', { 'index.js': cacheLab });
  assert.equal((await match('cacheother', '/shared', {}, '&cache=common')).status, 404);
  assert.equal((await match('cachelab', '/shared', {}, '&cache=common')).status, 200);
});

test('cached responses live on disk: they are still there after a restart', async () => {
  await put('cachelab', '/durable', { 'cache-control': 'max-age=600' });
  await h.close();
  h = await startHarness(() => {}, h.dataDir);
  await h.serving.directory.get('cachelab');
  const res = await match('cachelab', '/durable');
  assert.equal(res.status, 200, res.text);
  assert.equal(res.text, 'body of /durable');
});
