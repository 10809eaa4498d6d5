// Workers code deployed unmodified through a real islet (deploy API path: build, prepare, store,
// activate) and called over HTTP: nodejs_compat globals with the tenant's secrets in process.env,
// node:crypto, a WorkerEntrypoint class and an HTMLRewriter, each answering as on Workers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startHarness, type Harness } from '../server/serve-harness';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

test('a nodejs_compat worker signs with node:crypto and a secret read from process.env, over HTTP', async () => {
  const code = {
    'index.ts': `
      import { createHmac } from 'node:crypto';
      export default {
        async fetch(request: Request): Promise<Response> {
          const payload = Buffer.from(await request.text()).toString('base64url');
          const signature = createHmac('sha256', process.env.SIGNING_KEY!).update(payload).digest('base64url');
          return new Response(process.env.ISSUER + '.' + payload + '.' + signature);
        },
      };`,
  };
  const compatibility = { compatibility_date: '2025-01-01', compatibility_flags: ['nodejs_compat'] };
  await h.deploy('signer', code, { compatibility });
  // env is read when an isolate starts: set it, then deploy again so the new isolate sees it
  await h.serving.store.putEnv('signer', { vars: { ISSUER: 'islet' }, secrets: { SIGNING_KEY: 'k3y' } });
  await h.deploy('signer', code, { compatibility });
  const r = await h.get('signer.localhost', '/', { method: 'POST', body: '{"sub":"ada"}' });
  assert.equal(r.status, 200, r.text);
  const payload = Buffer.from('{"sub":"ada"}').toString('base64url');
  assert.equal(r.text, `islet.${payload}.${crypto.createHmac('sha256', 'k3y').update(payload).digest('base64url')}`);
});

test('a WorkerEntrypoint class rewriting HTML with HTMLRewriter answers over HTTP', async () => {
  await h.deploy('rewriter', {
    'index.js': `
      import { WorkerEntrypoint } from 'cloudflare:workers';
      export default class extends WorkerEntrypoint {
        fetch(request) {
          const page = new Response('<a href="http://old.test/x">x</a>', { headers: { 'content-type': 'text/html' } });
          const host = new URL(request.url).host;
          const links = { element: (a) => a.setAttribute('href', a.getAttribute('href').replace('old.test', host)) };
          return new HTMLRewriter().on('a', links).transform(page);
        }
      }`,
  });
  const r = await h.get('rewriter.localhost', '/');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.text, '<a href="http://rewriter.localhost/x">x</a>');
});
