// KV bindings through a real islet: Cloudflare's KV get-started worker deployed unmodified with its
// wrangler.jsonc, every method and value type, Cloudflare's limits and messages, the per-tenant
// quota and per-request operation cap, namespaces scoped to their tenant, and reads that see the
// tenant's own writes at once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { deployProject, setBindings } from './bindings-helpers';
import { eventually, type Harness, startHarness } from './serve-harness';

let h: Harness;

before(async () => {
  h = await startHarness((config) => {
    config.limits.kvKeys = 50;
    config.limits.kvBytes = 64 * 1024;
    config.limits.bindingOps = 60;
    // a 25 MiB string is made and copied out of the isolate within the request's CPU time
    config.tenants.kvlimits = { limits: { cpuMs: 5000 } };
  });
});
after(() => h.close());

const kvWorker = (body: string) => `
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    try {
      ${body}
    } catch (e) {
      return new Response((e && e.name) + ': ' + (e && e.message), { status: 500 });
    }
  },
};
`;

test("Cloudflare's KV get-started worker deploys unmodified with its wrangler.jsonc and answers from KV", async () => {
  const { warnings } = await deployProject(h, 'kv-tutorial', 'kv-get-started');
  assert.deepEqual(warnings, [], 'no warning for the guide project');
  const res = await h.get('kv-tutorial.localhost', '/');
  assert.equal(res.status, 200, res.text);
  assert.equal(res.text, 'disabled');
  const record = await h.serving.store.getDeployment(
    'kv-tutorial',
    (await h.serving.store.getTenant('kv-tutorial'))!.active!,
  );
  assert.deepEqual(record?.bindings, {
    kv_namespaces: [{ binding: 'USERS_NOTIFICATION_CONFIG', id: 'c0b4a6b2f58f4e3c8bd0d5a1b1e0f7a2' }],
  });
});

test('get and getWithMetadata in every type; put of strings, ArrayBuffers and streams; delete', async () => {
  await setBindings(h, 'kvtypes', { kv_namespaces: [{ binding: 'NS', id: 'types' }] });
  await deployProject(h, 'kvtypes', {
    'index.js': kvWorker(`
      await env.NS.put('text', 'héllo');
      await env.NS.put('json', JSON.stringify({ a: [1, 2] }), { metadata: { kind: 'doc' } });
      await env.NS.put('bytes', new Uint8Array([1, 2, 250]).buffer);
      await env.NS.put('view', new Uint8Array([9, 8, 7, 6]).subarray(1, 3));
      await env.NS.put('stream', new Blob(['from ', 'a stream']).stream());
      const text = await env.NS.get('text');
      const json = await env.NS.get('json', { type: 'json' });
      const withMeta = await env.NS.getWithMetadata('json', 'json');
      const ab = await env.NS.get('bytes', 'arrayBuffer');
      const view = new Uint8Array(await env.NS.get('view', { type: 'arrayBuffer' }));
      const stream = await new Response(await env.NS.get('stream', { type: 'stream' })).text();
      const none = await env.NS.getWithMetadata('nothing');
      await env.NS.delete('text');
      const gone = await env.NS.get('text');
      return Response.json({
        text, json, meta: withMeta.metadata, value: withMeta.value, ab: [...new Uint8Array(ab)], isAb: ab instanceof ArrayBuffer,
        view: [...view], stream, none, gone,
      });
    `),
  });
  const res = await h.get('kvtypes.localhost', '/');
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(JSON.parse(res.text), {
    text: 'héllo',
    json: { a: [1, 2] },
    meta: { kind: 'doc' },
    value: { a: [1, 2] },
    ab: [1, 2, 250],
    isAb: true,
    view: [8, 7],
    stream: 'from a stream',
    none: { value: null, metadata: null, cacheStatus: null },
    gone: null,
  });
});

test('list: prefix, limit, cursor pages, list_complete, expiration and metadata of keys', async () => {
  await setBindings(h, 'kvlist', { kv_namespaces: [{ binding: 'NS', id: 'list' }] });
  await deployProject(h, 'kvlist', {
    'index.js': kvWorker(`
      for (const k of ['a:1', 'a:2', 'a:3', 'b:1', 'a:\u00e9']) await env.NS.put(k, 'v', { metadata: { k } });
      await env.NS.put('a:ttl', 'v', { expirationTtl: 3600 });
      const pages = [];
      let cursor;
      do {
        const page = await env.NS.list({ prefix: 'a:', limit: 2, cursor });
        pages.push({ names: page.keys.map((k) => k.name), complete: page.list_complete, hasCursor: 'cursor' in page });
        cursor = page.cursor;
      } while (cursor);
      const all = await env.NS.list();
      const ttl = all.keys.find((k) => k.name === 'a:ttl');
      return Response.json({ pages, names: all.keys.map((k) => k.name), meta: all.keys[0].metadata, ttl: ttl.expiration - Math.floor(Date.now() / 1000) });
    `),
  });
  const res = await h.get('kvlist.localhost', '/');
  assert.equal(res.status, 200, res.text);
  const body = JSON.parse(res.text);
  assert.deepEqual(body.pages, [
    { names: ['a:1', 'a:2'], complete: false, hasCursor: true },
    { names: ['a:3', 'a:ttl'], complete: false, hasCursor: true },
    { names: ['a:\u00e9'], complete: true, hasCursor: false },
  ]);
  assert.deepEqual(body.names, ['a:1', 'a:2', 'a:3', 'a:ttl', 'a:\u00e9', 'b:1'], 'ordered by UTF-8 bytes');
  assert.deepEqual(body.meta, { k: 'a:1' });
  assert.ok(body.ttl > 3590 && body.ttl <= 3600, `expiration about an hour ahead (${body.ttl})`);
});

test("Cloudflare's limits, with Cloudflare's messages", async () => {
  await setBindings(h, 'kvlimits', { kv_namespaces: [{ binding: 'NS', id: 'limits' }] });
  await deployProject(h, 'kvlimits', {
    'index.js': kvWorker(`
      const tries = {
        longKey: () => env.NS.get('k'.repeat(513)),
        emptyKey: () => env.NS.put('', 'v'),
        dotKey: () => env.NS.delete('..'),
        bigValue: () => env.NS.put('big', 'x'.repeat(25 * 1024 * 1024 + 1)),
        bigMeta: () => env.NS.put('m', 'v', { metadata: { pad: 'x'.repeat(1100) } }),
        shortTtl: () => env.NS.put('t', 'v', { expirationTtl: 30 }),
        pastExpiration: () => env.NS.put('t', 'v', { expiration: Math.floor(Date.now() / 1000) - 5 }),
        soonExpiration: () => env.NS.put('t', 'v', { expiration: Math.floor(Date.now() / 1000) + 10 }),
        cacheTtl: () => env.NS.get('t', { cacheTtl: 10 }),
        badType: () => env.NS.get('t', { type: 'xml' }),
        listLimit: () => env.NS.list({ limit: 1001 }),
        badValue: () => env.NS.put('o', { an: 'object' }),
      };
      const out = {};
      for (const [name, f] of Object.entries(tries)) {
        try { await f(); out[name] = 'ok'; } catch (e) { out[name] = e.name + ': ' + e.message; }
      }
      return Response.json(out);
    `),
  });
  const res = await h.get('kvlimits.localhost', '/');
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(JSON.parse(res.text), {
    longKey: 'Error: KV GET failed: 414 UTF-8 encoded length of 513 exceeds key length limit of 512.',
    emptyKey: 'TypeError: Key name cannot be empty.',
    dotKey: 'TypeError: ".." is not allowed as a key name.',
    bigValue: 'Error: KV PUT failed: 413 Value length of 26214401 exceeds limit of 26214400.',
    bigMeta: 'Error: KV PUT failed: 413 Metadata length of 1110 exceeds limit of 1024.',
    shortTtl: 'Error: KV PUT failed: 400 Invalid expiration_ttl of 30. Expiration TTL must be at least 60.',
    pastExpiration: JSON.parse(res.text).pastExpiration,
    soonExpiration: JSON.parse(res.text).soonExpiration,
    cacheTtl: 'Error: KV GET failed: 400 Invalid cache_ttl of 10. Cache TTL must be at least 60.',
    badType: 'TypeError: Unknown response type. Possible types are "text", "arrayBuffer", "json", and "stream".',
    listLimit:
      'Error: KV GET failed: 400 Invalid key_count_limit of 1001. Please specify an integer less than or equal to 1000.',
    badValue:
      'TypeError: KV put() accepts only strings, ArrayBuffers, ArrayBufferViews, and ReadableStreams as values.',
  });
  const body = JSON.parse(res.text);
  assert.match(
    body.pastExpiration,
    /^Error: KV PUT failed: 400 Invalid expiration of \d+\. Please specify integer greater than/,
  );
  assert.match(body.soonExpiration, /Expiration times must be at least 60 seconds in the future\.$/);
});

test('namespaces are the tenant own: the same id of another tenant, or an unbound name, reaches nothing', async () => {
  await setBindings(h, 'kvowner', { kv_namespaces: [{ binding: 'NS', id: 'shared-id' }] });
  await setBindings(h, 'kvguess', { kv_namespaces: [{ binding: 'NS', id: 'shared-id' }] });
  await deployProject(h, 'kvowner', {
    'index.js': kvWorker(`await env.NS.put('secret', 'owner data'); return new Response('stored');`),
  });
  await deployProject(h, 'kvguess', {
    'index.js': kvWorker(`
      const guessed = await env.NS.get('secret');
      const listed = await env.NS.list();
      let unbound;
      try { await Object.getPrototypeOf(env.NS).get.call(env.NS, 'x'); } catch (e) { unbound = e.message; }
      let forged;
      try { new (Object.getPrototypeOf(env.NS).constructor)('NS'); } catch (e) { forged = e.message; }
      return Response.json({ guessed, listed: listed.keys.length, names: Object.keys(env), forged });
    `),
  });
  assert.equal((await h.get('kvowner.localhost', '/')).text, 'stored');
  const res = await h.get('kvguess.localhost', '/');
  assert.deepEqual(JSON.parse(res.text), { guessed: null, listed: 0, names: ['NS'], forged: 'Illegal constructor' });
});

test('a read after a write in the same tenant sees the write, from the next request too', async () => {
  await setBindings(h, 'kvryw', { kv_namespaces: [{ binding: 'NS', id: 'ryw' }] });
  await deployProject(h, 'kvryw', {
    'index.js': kvWorker(`
      const n = url.searchParams.get('n');
      if (n !== null) { env.NS.put('counter', n); return new Response(await env.NS.get('counter')); }
      return new Response(await env.NS.get('counter'));
    `),
  });
  for (let i = 0; i < 5; i++) {
    assert.equal((await h.get('kvryw.localhost', `/?n=${i}`)).text, String(i), 'same request, write not awaited');
    assert.equal((await h.get('kvryw.localhost', '/')).text, String(i), 'next request');
  }
});

test("the tenant's quota of keys and bytes, and the per-request operation cap", async () => {
  await setBindings(h, 'kvquota', {
    kv_namespaces: [
      { binding: 'A', id: 'a' },
      { binding: 'B', id: 'b' },
    ],
  });
  await deployProject(h, 'kvquota', {
    'index.js': kvWorker(`
      const what = url.pathname.slice(1);
      const out = { ok: 0 };
      try {
        if (what === 'keys') for (let i = 0; i < 60; i++) { await (i % 2 ? env.A : env.B).put('k' + i, 'v'); out.ok++; }
        if (what === 'bytes') for (let i = 0; i < 10; i++) { await env.A.put('k' + (2 * i + 1), 'x'.repeat(20000)); out.ok++; }
        if (what === 'ops') for (let i = 0; i < 100; i++) { await env.A.get('k1'); out.ok++; }
      } catch (e) { out.error = e.message; }
      return Response.json(out);
    `),
  });
  const keys = JSON.parse((await h.get('kvquota.localhost', '/keys')).text);
  assert.equal(keys.ok, 50, 'fifty keys over both namespaces');
  assert.match(keys.error, /^KV PUT failed: 413 the tenant's KV quota of 50 keys is reached/);
  const bytes = JSON.parse((await h.get('kvquota.localhost', '/bytes')).text);
  // existing keys (the key quota is full) grow to 20 KB each: the fourth passes 64 KiB
  assert.equal(bytes.ok, 3, `bytes quota of 64 KiB stops the 20 KB values early (${bytes.ok})`);
  assert.match(bytes.error, /quota of 65536 bytes is full/);
  const ops = JSON.parse((await h.get('kvquota.localhost', '/ops')).text);
  assert.equal(ops.ok, 60);
  assert.match(ops.error, /^Too many API requests by single Worker invocation/);
  const usage = await h.serving.bindings.kv!.usage('kvquota');
  assert.equal(usage.keys, 50);
});

test('a module without bindings gets no binding objects in env', async () => {
  await deployProject(h, 'kvnone', {
    'index.js': `export default { fetch(request, env) { return Response.json({ names: Object.keys(env) }); } };`,
  });
  assert.deepEqual(JSON.parse((await h.get('kvnone.localhost', '/')).text), { names: [] });
});

test('deleting a tenant removes its KV data (its namespaces are not there for a tenant of the same name later)', async () => {
  await setBindings(h, 'kvgone', { kv_namespaces: [{ binding: 'NS', id: 'gone' }] });
  await deployProject(h, 'kvgone', {
    'index.js': kvWorker(`await env.NS.put('left', 'behind'); return new Response('ok');`),
  });
  assert.equal((await h.get('kvgone.localhost', '/')).text, 'ok');
  const kv = h.serving.bindings.kv!;
  assert.equal((await kv.usage('kvgone')).keys, 1);
  await h.serving.store.deleteTenant('kvgone');
  await eventually(async () => (await kv.usage('kvgone')).keys === 0);
  assert.equal(await kv.get({ tenant: 'kvgone', namespace: 'gone' }, 'left'), null);
});
