// fetch() follows redirects the way the Fetch standard says (islet does it itself on undici's
// dispatcher, server/host/fetch-redirect.ts): method and body rewriting on 301/302/303, the
// modes, the final URL and `redirected`, credentials dropped across origins, the 20-hop cap, a
// streamed body never replayed; bodies are decoded as fetch decodes them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { makeEvaluator, runThrows } from './helpers';

let server: http.Server;
let other: http.Server;
let port = 0;
let otherPort = 0;

function echo(req: http.IncomingMessage, res: http.ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        method: req.method,
        body: Buffer.concat(chunks).toString(),
        type: req.headers['content-type'] ?? null,
        auth: req.headers.authorization ?? null,
        custom: req.headers['x-custom'] ?? null,
      }),
    );
  });
}

before(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const q = url.searchParams;
    if (url.pathname === '/to') {
      req.resume();
      res.writeHead(Number(q.get('status')), q.has('to') ? { location: q.get('to')! } : {});
      res.end('redirect body');
    } else if (url.pathname === '/loop') {
      const n = Number(q.get('n'));
      res.writeHead(302, { location: `/loop?n=${n + 1}` });
      res.end();
    } else if (url.pathname === '/deflate-raw') {
      const body = zlib.deflateRawSync('raw deflate hello');
      res.writeHead(200, { 'content-encoding': 'deflate', 'content-length': String(body.length) });
      res.end(body);
    } else if (url.pathname === '/deflate') {
      res.writeHead(200, { 'content-encoding': 'deflate' });
      res.end(zlib.deflateSync('zlib deflate hello'));
    } else if (url.pathname === '/br-gzip') {
      // gzip applied first, then br: decoded br first
      res.writeHead(200, { 'content-encoding': 'gzip, br' });
      res.end(zlib.brotliCompressSync(zlib.gzipSync('two codings')));
    } else if (url.pathname === '/unknown-coding') {
      res.writeHead(200, { 'content-encoding': 'snappy' });
      res.end('kept as sent');
    } else echo(req, res);
  });
  other = http.createServer(echo);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  otherPort = (other.address() as AddressInfo).port;
});
after(() => {
  for (const s of [server, other]) {
    s.closeAllConnections();
    s.close();
  }
});

const base = () => `http://127.0.0.1:${port}`;
const to = (status: number, target: string) => `${base()}/to?status=${status}&to=${encodeURIComponent(target)}`;

test('301 and 302 turn a POST into a GET without its body; 307 and 308 keep both', async () => {
  const e = makeEvaluator({ egress: { allow: ['127.0.0.1'] } });
  try {
    const value = await e.run(`
      const out = [];
      for (const status of [301, 302, 307, 308]) {
        const r = await fetch(${JSON.stringify(base())} + '/to?status=' + status + '&to=/echo', {
          method: 'POST', body: 'payload', headers: { 'content-type': 'text/plain', 'x-custom': 'kept' },
        });
        const seen = await r.json();
        out.push([status, seen.method, seen.body, seen.type, seen.custom, r.redirected, r.url]);
      }
      return out;`);
    const final = `${base()}/echo`;
    assert.deepEqual(value, [
      [301, 'GET', '', null, 'kept', true, final],
      [302, 'GET', '', null, 'kept', true, final],
      [307, 'POST', 'payload', 'text/plain', 'kept', true, final],
      [308, 'POST', 'payload', 'text/plain', 'kept', true, final],
    ]);
  } finally {
    e.close();
  }
});

test('303 turns any method but GET and HEAD into GET; a PUT through 301 stays a PUT', async () => {
  const e = makeEvaluator({ egress: { allow: ['127.0.0.1'] } });
  try {
    const value = await e.run(`
      const put303 = await (await fetch(${JSON.stringify(to(303, '/echo'))}, { method: 'PUT', body: 'x' })).json();
      const put301 = await (await fetch(${JSON.stringify(to(301, '/echo'))}, { method: 'PUT', body: 'y' })).json();
      const head = await fetch(${JSON.stringify(to(303, '/echo'))}, { method: 'HEAD' });
      return [put303.method, put303.body, put301.method, put301.body, head.status, head.redirected];`);
    assert.deepEqual(value, ['GET', '', 'PUT', 'y', 200, true]);
  } finally {
    e.close();
  }
});

test("redirect modes: 'error' rejects, 'manual' hands back the redirect; no Location is a final answer", async () => {
  const e = makeEvaluator({ egress: { allow: ['127.0.0.1'] } });
  try {
    const err = await runThrows(e, `await fetch(${JSON.stringify(to(302, '/echo'))}, { redirect: 'error' })`);
    assert.equal(err.name, 'TypeError');
    const value = await e.run(`
      const manual = await fetch(${JSON.stringify(to(301, '/echo'))}, { redirect: 'manual' });
      const none = await fetch(${JSON.stringify(base())} + '/to?status=302');
      return [manual.status, manual.headers.get('location'), manual.redirected,
        none.status, await none.text(), none.redirected];`);
    assert.deepEqual(value, [301, '/echo', false, 302, 'redirect body', false]);
  } finally {
    e.close();
  }
});

test('Authorization goes to the same origin only; more than 20 redirects fail', async () => {
  const e = makeEvaluator({ egress: { allow: ['127.0.0.1'] } });
  try {
    const value = await e.run(`
      const init = { headers: { authorization: 'Bearer secret', 'x-custom': 'c' } };
      const same = await (await fetch(${JSON.stringify(to(302, '/echo'))}, init)).json();
      const cross = await fetch(${JSON.stringify(to(302, `http://127.0.0.1:${otherPort}/echo`))}, init);
      const seen = await cross.json();
      const twenty = await fetch(${JSON.stringify(base())} + '/loop?n=0'.replace('n=0', 'n=0'), { redirect: 'manual' });
      return [same.auth, seen.auth, seen.custom, cross.url, twenty.status];`);
    assert.deepEqual(value, ['Bearer secret', null, 'c', `http://127.0.0.1:${otherPort}/echo`, 302]);
    const err = await runThrows(e, `await fetch(${JSON.stringify(base())} + '/loop?n=0')`);
    assert.equal(err.name, 'TypeError');
    assert.match(err.message, /more than 20 redirects/);
  } finally {
    e.close();
  }
});

test('a streamed request body is not sent twice: 307 fails, 303 drops it', async () => {
  const e = makeEvaluator({ egress: { allow: ['127.0.0.1'] } });
  try {
    const stream = `new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('once')); c.close(); } })`;
    const err = await runThrows(
      e,
      `await fetch(${JSON.stringify(to(307, '/echo'))}, { method: 'POST', body: ${stream}, duplex: 'half' })`,
    );
    assert.equal(err.name, 'TypeError');
    assert.match(err.message, /streamed request body/);
    const value = await e.run(`
      const r = await fetch(${JSON.stringify(to(303, '/echo'))}, { method: 'POST', body: ${stream}, duplex: 'half' });
      const seen = await r.json();
      return [seen.method, seen.body];`);
    assert.deepEqual(value, ['GET', '']);
  } finally {
    e.close();
  }
});

test('a redirect to a scheme other than http(s) or to a refused address fails', async () => {
  const e = makeEvaluator({ egress: { allow: ['127.0.0.1'] } });
  try {
    const scheme = await runThrows(e, `await fetch(${JSON.stringify(to(302, 'file:///etc/passwd'))})`);
    assert.match(scheme.message, /file: URLs cannot be followed/);
    const inner = await runThrows(e, `await fetch(${JSON.stringify(to(307, 'http://10.0.0.1/'))})`);
    assert.match(inner.message, /refused/);
  } finally {
    e.close();
  }
});

test('bodies are decoded as fetch decodes them: raw and zlib deflate, several codings, unknown ones kept', async () => {
  const e = makeEvaluator({ egress: { allow: ['127.0.0.1'] } });
  try {
    const value = await e.run(`
      const out = [];
      for (const path of ['/deflate-raw', '/deflate', '/br-gzip', '/unknown-coding']) {
        const r = await fetch(${JSON.stringify(base())} + path);
        out.push([await r.text(), r.headers.get('content-encoding')]);
      }
      return out;`);
    assert.deepEqual(value, [
      ['raw deflate hello', null],
      ['zlib deflate hello', null],
      ['two codings', null],
      ['kept as sent', 'snappy'],
    ]);
  } finally {
    e.close();
  }
});
