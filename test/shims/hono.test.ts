// Done-when of issue 4: a Hono application, bundled by esbuild, runs inside an isolate through
// the shims: routing, JSON responses, middleware, request bodies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import esbuild from 'esbuild';
import { makeSandbox, loadModule, request, fetchText, repoRoot, type TestSandbox } from './helpers';

let t: TestSandbox;
before(async () => {
  const built = await esbuild.build({
    entryPoints: [path.join(repoRoot, 'test/fixtures/shims/hono-app.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    nodePaths: [path.join(repoRoot, 'node_modules')],
    mainFields: ['module', 'main'],
  });
  t = makeSandbox();
  loadModule(t, built.outputFiles[0].text);
});
after(() => t.close());

const header = (headers: string[], name: string) => headers[headers.indexOf(name) + 1];

test('routes and middleware', async () => {
  const res = await fetchText(t, request('http://app.test/'));
  assert.equal(res.status, 200);
  assert.equal(res.text, 'hello from hono');
  assert.equal(header(res.headers, 'x-powered-by'), 'islet');
});

test('path parameters, query strings and JSON responses', async () => {
  const res = await fetchText(t, request('http://app.test/users/42?q=find%20me'));
  assert.equal(res.status, 200);
  assert.match(header(res.headers, 'content-type'), /^application\/json/);
  assert.deepEqual(JSON.parse(res.text), { id: '42', q: 'find me' });
});

test('request bodies: JSON and forms', async () => {
  const json = await fetchText(
    t,
    request('http://app.test/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ a: [1, 2] }),
    }),
  );
  assert.equal(json.status, 201);
  assert.deepEqual(JSON.parse(json.text), { received: { a: [1, 2] } });
  const form = await fetchText(
    t,
    request('http://app.test/form', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'name=ada&lang=js',
    }),
  );
  assert.deepEqual(JSON.parse(form.text), { name: 'ada', lang: 'js' });
});

test('guard middleware, not-found handler and streamed bodies', async () => {
  assert.equal((await fetchText(t, request('http://app.test/admin/stats'))).status, 401);
  assert.deepEqual(
    JSON.parse(
      (await fetchText(t, request('http://app.test/admin/stats', { headers: { authorization: 'Bearer secret' } })))
        .text,
    ),
    { ok: true },
  );
  const missing = await fetchText(t, request('http://app.test/nope', { method: 'DELETE' }));
  assert.equal(missing.status, 404);
  assert.deepEqual(JSON.parse(missing.text), { error: 'no route for DELETE /nope' });
  assert.equal((await fetchText(t, request('http://app.test/stream'))).text, 'ab');
});
