// AsyncLocalStorage over V8's continuation-preserved embedder data (issue 18): the store a request
// set survives `await`, promise callbacks, timers and host completions (fetch, crypto.subtle),
// and requests interleaved in one isolate each keep their own. Also hono's contextStorage()
// middleware, deployed unmodified.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fetchText, request, repoRoot } from './helpers';
import { deploySandbox } from './deploy-helpers';

let server: http.Server;
let origin = '';
before(async () => {
  server = http.createServer((req, res) => {
    // answers late, so that the continuation runs from a host completion in a later turn
    setTimeout(() => res.end(`pong ${req.url}`), 20);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

test('the store survives await, .then, timers, fetch and crypto.subtle completions; requests keep their own', async () => {
  const t = await deploySandbox(
    {
      'index.js': `import { AsyncLocalStorage } from 'node:async_hooks';
      const als = new AsyncLocalStorage();
      const seen = () => als.getStore() ?? null;
      export default {
        fetch(request) {
          const id = new URL(request.url).pathname.slice(1);
          return als.run({ id }, async () => {
            const out = { start: seen()?.id };
            await null;
            out.afterAwait = seen()?.id;
            out.promiseThen = await Promise.resolve().then(() => seen()?.id);
            out.timer = await new Promise((resolve) => setTimeout(() => resolve(seen()?.id), 5));
            const body = await (await fetch(${JSON.stringify(origin)} + '/' + id)).text();
            out.fetch = [body, seen()?.id];
            await crypto.subtle.digest('SHA-256', new TextEncoder().encode(id));
            out.subtle = seen()?.id;
            out.nested = await als.run({ id: id + '-inner' }, async () => { await null; return seen()?.id; });
            out.afterNested = seen()?.id;
            return Response.json(out);
          });
        },
      };`,
    },
    { egress: { allow: ['127.0.0.1'] } },
  );
  try {
    // interleaved: both requests wait on timers and fetches at the same time
    const [a, b] = await Promise.all([
      fetchText(t, request('http://x.test/a')),
      fetchText(t, request('http://x.test/b')),
    ]);
    for (const [r, id] of [
      [a, 'a'],
      [b, 'b'],
    ] as const) {
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(JSON.parse(r.text), {
        start: id,
        afterAwait: id,
        promiseThen: id,
        timer: id,
        fetch: [`pong /${id}`, id],
        subtle: id,
        nested: `${id}-inner`,
        afterNested: id,
      });
    }
  } finally {
    t.close();
  }
});

test("hono's contextStorage() middleware, deployed unmodified: getContext() after awaits and a fetch", async () => {
  const t = await deploySandbox(
    {
      'index.js': `import { Hono } from 'hono';
      import { contextStorage, getContext } from 'hono/context-storage';
      const app = new Hono();
      app.use(contextStorage());
      app.use(async (c, next) => {
        c.set('user', c.req.query('user'));
        await next();
      });
      const whoAmI = () => getContext().var.user;
      app.get('/', async (c) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        const pong = await (await fetch(${JSON.stringify(origin)} + '/hono')).text();
        return c.json({ user: whoAmI(), pong });
      });
      export default app;`,
    },
    { hostNodeModules: path.join(repoRoot, 'node_modules'), egress: { allow: ['127.0.0.1'] } },
  );
  try {
    const [ada, bob] = await Promise.all([
      fetchText(t, request('http://x.test/?user=ada')),
      fetchText(t, request('http://x.test/?user=bob')),
    ]);
    assert.equal(ada.status, 200, ada.text);
    assert.deepEqual(JSON.parse(ada.text), { user: 'ada', pong: 'pong /hono' });
    assert.deepEqual(JSON.parse(bob.text), { user: 'bob', pong: 'pong /hono' });
  } finally {
    t.close();
  }
});
