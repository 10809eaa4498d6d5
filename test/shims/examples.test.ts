// The example functions in functions/ (written by the serving engineer as a tenant would write
// them) run on the shims: proxy (fetch + streaming TransformStream rewrite) and sign (HMAC).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import esbuild from 'esbuild';
import { makeSandbox, loadModule, request, fetchText, repoRoot } from './helpers';

function bundle(entry: string): string {
  return esbuild.buildSync({
    entryPoints: [path.join(repoRoot, entry)],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    nodePaths: [path.join(repoRoot, 'node_modules')],
    mainFields: ['module', 'main'],
  }).outputFiles[0].text;
}

let upstream: http.Server;
let origin = '';
before(async () => {
  upstream = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      res.setHeader('content-type', 'text/html');
      // the upstream origin appears split across two writes: the rewrite must still catch it
      const page = `<a href="${origin}/next">${req.method} ${req.url} ${body}</a>`;
      const cut = page.indexOf(origin) + 10;
      res.write(page.slice(0, cut));
      setTimeout(() => res.end(page.slice(cut)), 5);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});
after(() => upstream.close());

test('functions/proxy forwards through fetch and rewrites the streamed body', async () => {
  const t = makeSandbox({ env: { UPSTREAM: origin }, egress: { allow: ['127.0.0.1'] } });
  try {
    loadModule(t, bundle('functions/proxy/index.ts'));
    const res = await fetchText(t, request('https://proxy.example/page?x=1', { method: 'POST', body: 'form=data' }));
    assert.equal(res.status, 200);
    assert.equal(res.text, '<a href="https://proxy.example/next">POST /page?x=1 form=data</a>');
    assert.equal(res.headers[res.headers.indexOf('x-proxied-by') + 1], 'islet');
  } finally {
    t.close();
  }
  const refused = makeSandbox({ env: { UPSTREAM: origin } });
  try {
    loadModule(refused, bundle('functions/proxy/index.ts'));
    const res = await fetchText(refused, request('https://proxy.example/'));
    assert.equal(res.status, 502);
    assert.match(res.text, /refused/);
  } finally {
    refused.close();
  }
});

test('functions/sign issues a token that verifies, and rejects a tampered one', async () => {
  const t = makeSandbox({ env: { SIGNING_KEY: 'test-key' } });
  try {
    loadModule(t, bundle('functions/sign/index.ts'));
    const signed = await fetchText(
      t,
      request('https://sign.example/sign', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sub: 'ada', ttl: 60 }),
      }),
    );
    assert.equal(signed.status, 200);
    const { token } = JSON.parse(signed.text);
    const ok = await fetchText(t, request(`https://sign.example/verify?token=${encodeURIComponent(token)}`));
    assert.equal(ok.status, 200);
    assert.equal(JSON.parse(ok.text).claims.sub, 'ada');
    const bad = await fetchText(
      t,
      request(`https://sign.example/verify?token=${encodeURIComponent(token.slice(0, -2) + 'xx')}`),
    );
    assert.equal(bad.status, 401);
  } finally {
    t.close();
  }
});
