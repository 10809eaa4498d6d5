// The local backends workerd is given in the bindings benchmark, built the way miniflare builds
// its own: workerd has no KV or cache store of its own, so a KV binding and the Cache API talk
// HTTP to services, and those keep their data in a Durable Object whose storage is SQLite on
// local disk. `Kv` answers workerd's KV protocol (GET/PUT/DELETE https://fake-host/<key>),
// `Cache` its cache protocol (PUT <url> with a serialized response, GET with only-if-cached
// answered with CF-Cache-Status HIT or MISS, PURGE). One object holds all data, as one
// namespace does.
import { DurableObject } from 'cloudflare:workers';

export class Store extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec('CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB, metadata TEXT)');
    this.sql.exec('CREATE TABLE IF NOT EXISTS cache (url TEXT PRIMARY KEY, status INTEGER, headers TEXT, body BLOB)');
  }

  async fetch(request) {
    const url = new URL(request.url);
    const kind = request.headers.get('x-store');
    if (kind === 'kv') {
      const key = decodeURIComponent(url.pathname.slice(1));
      if (request.method === 'GET') {
        const row = this.sql.exec('SELECT value, metadata FROM kv WHERE key = ?', key).toArray()[0];
        if (!row) return new Response(null, { status: 404 });
        const headers = row.metadata ? { 'cf-kv-metadata': row.metadata } : {};
        return new Response(row.value, { headers });
      }
      if (request.method === 'PUT') {
        const value = await request.arrayBuffer();
        const metadata = request.headers.get('cf-kv-metadata');
        this.sql.exec('INSERT OR REPLACE INTO kv (key, value, metadata) VALUES (?, ?, ?)', key, value, metadata);
        return new Response(null);
      }
      this.sql.exec('DELETE FROM kv WHERE key = ?', key);
      return new Response(null);
    }
    const key = request.headers.get('x-url');
    if (request.method === 'PUT') {
      const payload = new Uint8Array(await request.arrayBuffer());
      const { status, headers, body } = parseResponse(payload);
      this.sql.exec(
        'INSERT OR REPLACE INTO cache (url, status, headers, body) VALUES (?, ?, ?, ?)',
        key,
        status,
        JSON.stringify(headers),
        body,
      );
      return new Response(null, { status: 204 });
    }
    if (request.method === 'PURGE') {
      const found = this.sql.exec('SELECT 1 FROM cache WHERE url = ?', key).toArray().length > 0;
      this.sql.exec('DELETE FROM cache WHERE url = ?', key);
      return new Response(null, { status: found ? 200 : 404 });
    }
    const row = this.sql.exec('SELECT status, headers, body FROM cache WHERE url = ?', key).toArray()[0];
    if (!row) return new Response(null, { status: 504, headers: { 'cf-cache-status': 'MISS' } });
    const headers = new Headers(JSON.parse(row.headers));
    headers.set('cf-cache-status', 'HIT');
    return new Response(row.body, { status: row.status, headers });
  }
}

/** a serialized HTTP/1.1 response (what workerd PUTs to the cache) as status, headers and body */
function parseResponse(bytes) {
  let end = 0;
  while (
    end + 3 < bytes.length &&
    !(bytes[end] === 13 && bytes[end + 1] === 10 && bytes[end + 2] === 13 && bytes[end + 3] === 10)
  )
    end++;
  const head = new TextDecoder().decode(bytes.subarray(0, end)).split('\r\n');
  const status = Number(head[0].split(' ')[1]);
  const headers = [];
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    if (name !== 'content-length' && name !== 'transfer-encoding') headers.push([name, line.slice(colon + 1).trim()]);
  }
  return { status, headers, body: bytes.slice(end + 4) };
}

function forward(env, request, kind) {
  const stub = env.STORE.get(env.STORE.idFromName('bench'));
  const headers = new Headers(request.headers);
  headers.set('x-store', kind);
  headers.set('x-url', request.url);
  const body = request.method === 'PUT' ? request.body : null;
  return stub.fetch(request.url, { method: request.method, headers, body });
}

export const kv = {
  fetch: (request, env) => forward(env, request, 'kv'),
};

export const cache = {
  fetch: (request, env) => forward(env, request, 'cache'),
};
