// The bindings benchmark's workload, served byte for byte by islet and by workerd:
//   /hello       no binding (the baseline of the request itself)
//   /kv-get      env.KV.get of a 100-byte value
//   /kv-put      env.KV.put of a 100-byte value under one of 1,000 keys
//   /cache-hit   caches.default.match of a stored 1 KB response
//   /seed        stores the value and the response the reads above find
const VALUE = 'v'.repeat(100);
const PAGE = 'p'.repeat(1024);
const CACHED = 'https://bench.example/cached';

export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    switch (path) {
      case '/hello':
        return new Response('hello');
      case '/kv-get':
        return new Response(await env.KV.get('hot'));
      case '/kv-put':
        await env.KV.put(`k${(Math.random() * 1000) | 0}`, VALUE);
        return new Response('ok');
      case '/cache-hit': {
        const hit = await caches.default.match(CACHED);
        return hit ?? new Response('miss', { status: 404 });
      }
      case '/seed':
        await env.KV.put('hot', VALUE);
        await caches.default.put(CACHED, new Response(PAGE, { headers: { 'cache-control': 'max-age=86400' } }));
        return new Response('seeded');
      default:
        return new Response('not found', { status: 404 });
    }
  },
};
