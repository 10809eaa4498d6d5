// cloudflare:workers: a class-based default export (WorkerEntrypoint) with this.env and this.ctx,
// the `env` import, and DurableObject (deploys; constructing one says islet has none yet).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fetchText, request } from './helpers';
import { deploySandbox } from './deploy-helpers';

test('a WorkerEntrypoint class default export answers, one instance per request, with env and ctx', async () => {
  const t = await deploySandbox(
    {
      'src/index.ts': `
      import { WorkerEntrypoint, env as moduleEnv } from 'cloudflare:workers';
      let instances = 0;
      export default class Api extends WorkerEntrypoint<{ NAME: string }> {
        #id = ++instances;
        async fetch(request: Request): Promise<Response> {
          this.ctx.waitUntil(Promise.resolve());
          return Response.json({
            name: this.env.NAME,
            sameEnv: this.env === moduleEnv,
            instance: this.#id,
            path: new URL(request.url).pathname,
            waitUntil: typeof this.ctx.waitUntil,
          });
        }
      }`,
    },
    { env: { NAME: 'ada' } },
  );
  try {
    const first = JSON.parse((await fetchText(t, request('http://x.test/a'))).text);
    const second = JSON.parse((await fetchText(t, request('http://x.test/b'))).text);
    assert.deepEqual(first, { name: 'ada', sameEnv: true, instance: 1, path: '/a', waitUntil: 'function' });
    assert.equal(second.instance, 2);
    assert.equal(second.path, '/b');
  } finally {
    t.close();
  }
});

test('code declaring a DurableObject class deploys; constructing one is a clear error', async () => {
  const t = await deploySandbox({
    'index.js': `
      import { DurableObject, WorkerEntrypoint, RpcTarget } from 'cloudflare:workers';
      export class Counter extends DurableObject {
        async fetch() { return new Response('count'); }
      }
      export default {
        fetch(request, env, ctx) {
          try { new Counter({}, env); return new Response('constructed'); }
          catch (error) { return new Response(error.code + ': ' + error.message, { status: 501 }); }
        },
      };`,
  });
  try {
    const r = await fetchText(t, request('http://x.test/'));
    assert.equal(r.status, 501);
    assert.match(r.text, /^ERR_NOT_AVAILABLE_IN_ISLET: Durable Objects are not available in islet yet/);
  } finally {
    t.close();
  }
});
