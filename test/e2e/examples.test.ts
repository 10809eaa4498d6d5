// The example functions as `npm start` serves them: functions/ published by `startServing`
// (build, validation in a fresh isolate, store, activation) and called over HTTP, each running
// inside a real isolate with the real shims.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { eventually, startIslet, type Islet } from './islet';

describe('example functions served by npm start', () => {
  let islet: Islet;
  let upstream: http.Server;
  let upstreamOrigin: string;

  before(async () => {
    // The proxy example's upstream, on loopback: the egress policy must allow it explicitly.
    upstream = http.createServer((req, res) => {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      // written in small pieces so the rewrite has to handle matches cut across chunks
      const page = `<a href="${upstreamOrigin}/next">next</a> seen ${req.method} ${req.url} <b>${'x'.repeat(3000)}</b> ${upstreamOrigin}/end`;
      let at = 0;
      const step = () => {
        if (at >= page.length) return res.end();
        res.write(page.slice(at, (at += 7)));
        setImmediate(step);
      };
      step();
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamOrigin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    islet = await startIslet({ functions: true, tweak: (config) => (config.egress.allow = ['127.0.0.1']) });
  });

  after(async () => {
    await islet?.close();
    await new Promise<void>((resolve) => upstream?.close(() => resolve()));
  });

  it('publishes every folder of functions/ as an active tenant', async () => {
    const { status, body } = await islet.admin('/v1/tenants');
    assert.equal(status, 200);
    const names = (body.tenants as { name: string; active: string | null }[])
      .filter((t) => t.active)
      .map((t) => t.name)
      .sort();
    assert.deepEqual(names, ['api', 'hello', 'multi', 'page', 'proxy', 'sign']);
  });

  it("every row of README's example table answers 200 on a fresh start, offline (proxy through a service binding to page)", async () => {
    const rows: [string, string, { method?: string; body?: string }?][] = [
      ['hello', '/'],
      ['api', '/notes'],
      ['page', '/?name=Ada'],
      ['proxy', '/'],
      ['sign', '/sign', { method: 'POST', body: '{"sub":"ada"}' }],
      ['multi', '/quotes/1'],
    ];
    for (const [tenant, path, init] of rows) {
      const res = await islet.get(tenant, path, init);
      assert.equal(res.status, 200, `${tenant} ${path}: ${res.status} ${res.text.slice(0, 200)}`);
    }
    // the proxy's default upstream is the page example, reached without the network
    const proxied = await islet.get('proxy', '/?name=Proxy');
    assert.equal(proxied.headers['x-proxied-by'], 'islet');
    assert.match(proxied.text, /<h1>Hello, Proxy!<\/h1>/);
    const bindings = await islet.admin('/v1/tenants/page/bindings');
    assert.deepEqual(bindings.body.declared, { callers: ['proxy'] }, "page's bindings.json applied by --functions");
  });

  it('api: a hono JSON API keeps notes in the warm isolate and answers JSON errors', async () => {
    const created = await islet.get('api', '/notes', {
      method: 'POST',
      body: JSON.stringify({ text: 'buy milk' }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(created.status, 201);
    const note = JSON.parse(created.text) as { id: number; text: string };
    assert.equal(note.text, 'buy milk');
    const read = await islet.get('api', `/notes/${note.id}`);
    assert.equal(read.status, 200);
    assert.deepEqual(JSON.parse(read.text), JSON.parse(created.text));
    const bad = await islet.get('api', '/notes', { method: 'POST', body: '{"text": 5}' });
    assert.equal(bad.status, 400);
    assert.equal(JSON.parse(bad.text).error.code, 'BAD_NOTE');
    const missing = await islet.get('api', '/nothing-here');
    assert.equal(missing.status, 404);
    assert.equal(JSON.parse(missing.text).error.code, 'NO_ROUTE');
  });

  it('page: renders HTML with the query escaped', async () => {
    const res = await islet.get('page', '/?name=%3Cscript%3Ealert(1)%3C%2Fscript%3E');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /text\/html/);
    assert.match(res.text, /<h1>Hello, &lt;script&gt;alert\(1\)&lt;\/script&gt;!<\/h1>/);
    assert.doesNotMatch(res.text, /<script>alert/);
    assert.equal((await islet.get('page', '/elsewhere')).status, 404);
  });

  it('sign: a token signed with crypto.subtle verifies, a tampered one does not', async () => {
    const signed = await islet.get('sign', '/sign', { method: 'POST', body: JSON.stringify({ sub: 'ada', ttl: 60 }) });
    assert.equal(signed.status, 200);
    assert.ok(signed.headers['x-dev-key'], 'without SIGNING_KEY the answer warns about the development key');
    const { token } = JSON.parse(signed.text) as { token: string };
    const ok = await islet.get('sign', `/verify?token=${encodeURIComponent(token)}`);
    assert.equal(ok.status, 200);
    assert.equal(JSON.parse(ok.text).claims.sub, 'ada');
    const [payload, signature] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ sub: 'root', exp: 9999999999 })).toString('base64url');
    const bad = await islet.get('sign', `/verify?token=${forged}.${signature}`);
    assert.equal(bad.status, 401);
    assert.equal(JSON.parse(bad.text).reason, 'bad signature');
    assert.ok(payload);

    // with a secret key set, tokens signed with the development key no longer verify
    const env = await islet.admin('/v1/tenants/sign/env', {
      method: 'PUT',
      body: { secrets: { SIGNING_KEY: 'e2e-secret' } },
    });
    assert.equal(env.status, 200);
    await eventually(
      async () =>
        (await islet.get('sign', `/verify?token=${encodeURIComponent(token)}`)).status === 401 ? true : undefined,
      5000,
      'new key in use',
    );
  });

  it('multi: modules joined by relative imports', async () => {
    const res = await islet.get('multi', '/quotes/3');
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.text).author, 'Alan Kay');
    const missing = await islet.get('multi', '/quotes/99');
    assert.equal(missing.status, 404);
    assert.match(JSON.parse(missing.text).error.message, /no quote at index 99/);
  });

  it('proxy: streams an allowed upstream through a TransformStream that rewrites its origin', async () => {
    const env = await islet.admin('/v1/tenants/proxy/env', {
      method: 'PUT',
      body: { vars: { UPSTREAM: upstreamOrigin } },
    });
    assert.equal(env.status, 200);
    const res = await eventually(
      async () => {
        const r = await islet.get('proxy', '/some/page?x=1');
        return r.status === 200 ? r : undefined;
      },
      5000,
      'proxy answering from the local upstream',
    );
    assert.equal(res.headers['x-proxied-by'], 'islet');
    assert.match(res.text, /seen GET \/some\/page\?x=1/);
    assert.ok(!res.text.includes(upstreamOrigin), 'every upstream origin is rewritten');
    assert.match(res.text, /<a href="http:\/\/proxy\.localhost(:\d+)?\/next">/);
    assert.match(res.text, /proxy\.localhost(:\d+)?\/end$/);
    assert.ok(res.text.includes('x'.repeat(3000)));
  });

  it('proxy: an upstream on a loopback address the policy does not allow is refused, not fetched', async () => {
    // ::1 is loopback but only 127.0.0.1 is allowed: the egress guard must refuse before connecting
    const env = await islet.admin('/v1/tenants/proxy/env', {
      method: 'PUT',
      body: { vars: { UPSTREAM: 'http://[::1]/' } },
    });
    assert.equal(env.status, 200);
    const res = await eventually(
      async () => {
        const r = await islet.get('proxy', '/');
        return r.status === 502 ? r : undefined;
      },
      5000,
      'proxy refusing the upstream',
    );
    assert.match(res.text, /refused/);
  });
});
