// A store event that leaves a tenant's state as it was (the same env or limits written again, a
// late duplicate from the store watcher) keeps the tenant's warm isolate; a real change replaces
// it. Found by the hostile suite: a spurious replacement let twice the tenant's concurrency limit
// in at once (the old isolate drains its requests while the new one admits as many again).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startHarness, eventually, type Harness } from './serve-harness';

let h: Harness;
before(async () => {
  h = await startHarness();
  await h.deploy('counter', {
    'index.js':
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the tenant's own template literal
      'let n = 0; export default { fetch(_r, env) { n++; return new Response(`${n} ${env.COLOR ?? "none"}`); } };',
  });
});
after(() => h.close());

async function admin(method: string, path: string, body: unknown): Promise<number> {
  const res = await request(`http://127.0.0.1:${h.serving.adminPort}${path}`, {
    method: method as 'PUT',
    headers: { authorization: `Bearer ${h.serving.operatorToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await res.body.text();
  return res.statusCode;
}

test('rewriting the same env and limits keeps the warm isolate; a real change replaces it', async () => {
  await eventually(async () => (await h.get('counter.localhost')).status === 200);
  const first = Number((await h.get('counter.localhost')).text.split(' ')[0]);
  const from = h.logs.length;
  assert.equal(await admin('PUT', '/v1/tenants/counter/env', { vars: {} }), 200);
  assert.equal(await admin('PUT', '/v1/tenants/counter', {}), 200);
  // the store watcher delivers the events within about a second
  await h.waitForLog(() => false, 1500).catch(() => {});
  const after = (await h.get('counter.localhost')).text;
  assert.equal(after, `${first + 1} none`, 'the same isolate answered (its counter went on)');
  const retired = h.logs.slice(from).filter((r) => r.msg === 'isolate retired' && r.tenant === 'counter');
  assert.deepEqual(retired, [], 'no isolate was retired');

  assert.equal(await admin('PUT', '/v1/tenants/counter/env', { vars: { COLOR: 'blue' } }), 200);
  const changed = await eventually(async () => {
    const text = (await h.get('counter.localhost')).text;
    return text.endsWith('blue') ? text : null;
  });
  assert.equal(changed, '1 blue', 'a new isolate with the new env');
});
