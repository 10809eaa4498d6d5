// Hostile tenants against the bindings, each attack run while a neighbour tenant is asked in a
// loop (islet.ts whileNeighbourServed: every neighbour request must answer 200 'neighbour ok'):
//
// | case                                        | the attacker gets                                      |
// |---------------------------------------------|--------------------------------------------------------|
// | KV quota flood (keys and bytes, in parallel) | 200; puts past the quota reject; usage never passes it |
// | cache flood (large responses, many URLs)    | 200; its disk use stays under cacheBytes; the          |
// |                                             |   neighbour's cached response is still served          |
// | service-binding loop (self, and fan-out)    | 508 islet-error: loop, or islet's limit answers        |
// | cron handler that never ends / that spins   | the run is cut at cronWallMs / cronCpuMs               |
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { attacker, neighbourCode, startIslet, whileNeighbourServed, type Islet } from './islet';

let islet: Islet;

before(async () => {
  islet = await startIslet((config) => {
    config.logRequests = false;
    config.limits.kvKeys = 300;
    config.limits.kvBytes = 1024 * 1024;
    config.limits.cacheBytes = 2 * 1024 * 1024;
    config.limits.cronWallMs = 1500;
    config.limits.cronCpuMs = 100;
    config.cache.memoryMb = 4;
    config.cron.enabled = false;
  });
  await islet.deployReady('neighbour', neighbourCode);
});
after(() => islet.close());

async function bind(tenant: string, bindings: Record<string, unknown>): Promise<void> {
  const put = await islet.admin('PUT', `/v1/tenants/${tenant}`, { limits: {} });
  assert.ok(put.status === 200 || put.status === 201, put.text);
  const res = await islet.admin('PUT', `/v1/tenants/${tenant}/bindings`, bindings);
  assert.equal(res.status, 200, res.text);
}

test('KV quota flood: parallel puts of new keys and big values stop at the quota, the neighbour is served', async () => {
  await bind('kvflood', {
    kv_namespaces: [
      { binding: 'A', id: 'a' },
      { binding: 'B', id: 'b' },
    ],
  });
  await islet.deployReady(
    'kvflood',
    attacker(`
      const kind = new URL(request.url).pathname;
      const tag = Math.random().toString(36).slice(2);
      const writes = [];
      for (let i = 0; i < 400; i++) {
        const ns = i % 2 ? env.A : env.B;
        writes.push(kind === '/bytes' ? ns.put('big' + (i % 20), 'x'.repeat(64 * 1024)) : ns.put(tag + i, 'v'));
      }
      const results = await Promise.allSettled(writes);
      const refused = results.filter((r) => r.status === 'rejected').map((r) => r.reason.message);
      return Response.json({ ok: results.length - refused.length, refused: refused.length, sample: refused[0] ?? null });
    `),
  );
  const replies = await whileNeighbourServed(islet, () =>
    Promise.all([...Array.from({ length: 4 }, () => islet.hit('kvflood', '/keys')), islet.hit('kvflood', '/bytes')]),
  );
  for (const reply of replies) assert.equal(reply.status, 200, reply.text);
  const keys = replies.slice(0, 4).map((r) => JSON.parse(r.text));
  assert.ok(
    keys.some((k) => k.refused > 0),
    'some puts were refused',
  );
  assert.ok(keys.every((k) => k.sample === null || /quota/.test(k.sample) || /Too many API requests/.test(k.sample)));
  const usage = await islet.serving.bindings.kv!.usage('kvflood');
  assert.ok(usage.keys <= 300, `keys stay under the quota (${usage.keys})`);
  assert.ok(usage.bytes <= 1024 * 1024, `bytes stay under the quota (${usage.bytes})`);
});

test("cache flood: an attacker's many large responses stay within its bytes, the neighbour's entry survives", async () => {
  await islet.deployReady(
    'cachekeeper',
    attacker(`
      const hit = await caches.default.match('https://keeper.example/page');
      if (hit) return new Response('kept ' + (await hit.text()).length);
      await caches.default.put('https://keeper.example/page', new Response('y'.repeat(50000), { headers: { 'cache-control': 'max-age=3600' } }));
      return new Response('stored');
    `),
  );
  assert.equal((await islet.hit('cachekeeper', '/')).text, 'stored');
  await islet.deployReady(
    'cacheflood',
    attacker(`
      const tag = Math.random().toString(36).slice(2);
      let done = 0;
      for (let i = 0; i < 40; i++) {
        await caches.default.put('https://flood.example/' + tag + i, new Response(new Uint8Array(256 * 1024), { headers: { 'cache-control': 'max-age=3600' } }));
        done++;
      }
      return new Response('put ' + done);
    `),
    { cpuMs: 2000 },
  );
  const replies = await whileNeighbourServed(islet, () =>
    Promise.all(Array.from({ length: 5 }, () => islet.hit('cacheflood', '/'))),
  );
  for (const reply of replies) assert.equal(reply.status, 200, reply.text);
  const used = islet.serving.bindings.cache!.usage('cacheflood');
  assert.ok(used <= 2 * 1024 * 1024, `the attacker's cache stays under limits.cacheBytes (${used})`);
  assert.ok(used > 1024 * 1024, `and it was used (${used})`);
  assert.equal((await islet.hit('cachekeeper', '/')).text, 'kept 50000', "the other tenant's response is still served");
});

test('service-binding loop: a self-call loop and a fan-out tree are cut, the neighbour is served', async () => {
  await bind('looper', { services: [{ binding: 'SELF', service: 'looper' }], callers: ['looper'] });
  await islet.deployReady(
    'looper',
    attacker(`
      const fan = new URL(request.url).pathname === '/fan' ? 3 : 1;
      const answers = await Promise.all(Array.from({ length: fan }, () => env.SELF.fetch(request).catch((e) => new Response(e.message, { status: 599 }))));
      return answers[0];
    `),
    { wallMs: 3000 },
  );
  const [loop, fan] = await whileNeighbourServed(islet, () =>
    Promise.all([islet.hit('looper', '/loop'), islet.hit('looper', '/fan', { timeoutMs: 20_000 })]),
  );
  assert.equal(loop.status, 508, loop.text);
  assert.equal(loop.headers['islet-error'], 'loop');
  assert.ok([508, 503, 504].includes(fan.status), `the fan-out is cut (${fan.status} ${fan.headers['islet-error']})`);
});

test('cron handler that never ends (and one that spins): cut at its own limits, the neighbour is served', async () => {
  const hang = `
export default {
  fetch(request) { return new Response('pong ' + __MARK__); },
  scheduled(controller, env, ctx) {
    if (controller.cron === 'spin') for (;;) {}
    ctx.waitUntil(new Promise(() => {}));
    return new Promise(() => {});
  },
};`;
  await islet.deployReady('cronhang', hang);
  const started = Date.now();
  const runs = await whileNeighbourServed(islet, () =>
    Promise.all([
      islet.admin('POST', '/v1/tenants/cronhang/scheduled?cron=hang'),
      islet.admin('POST', '/v1/tenants/cronhang/scheduled?cron=hang'),
      islet.admin('POST', '/v1/tenants/cronhang/scheduled?cron=spin'),
    ]),
  );
  const outcomes = runs.map((r) => JSON.parse(r.text).outcome);
  assert.deepEqual(outcomes, ['wall', 'wall', 'cpu']);
  assert.ok(Date.now() - started < 10_000, 'the never-ending runs were cut near cronWallMs');
  const scrape = await islet.admin('GET', '/metrics');
  assert.match(scrape.text, /islet_cron_runs_total\{tenant="cronhang",status="wall"\} 2/);
});
