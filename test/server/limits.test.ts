// Each per-tenant limit cuts an abusive request with the documented status and `islet-error`,
// while a neighbour tenant keeps answering during the abuse.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { startHarness, type Harness } from './serve-harness';

let h: Harness;

before(async () => {
  h = await startHarness((config) => {
    config.tenants.spin = { limits: { cpuMs: 50 } };
    config.tenants.hang = { limits: { wallMs: 300 } };
    config.tenants.hog = { limits: { memoryMb: 16, cpuMs: 5000 } };
    config.tenants.small = { limits: { requestBodyBytes: 1024 } };
    config.tenants.busy = { limits: { concurrency: 2 } };
  });
  await h.deploy('neighbour', 'slow.js');
  await h.deploy('spin', 'spin.js');
  await h.deploy('hang', 'hang.js');
  await h.deploy('hog', 'hog.js');
  await h.deploy('small', 'stream.js');
  await h.deploy('busy', 'slow.js');
  await h.deploy('patched', 'slow.js');
  assert.equal((await h.get('neighbour.localhost', '/')).status, 200);
});
after(() => h.close());

/** Runs `abuse` while the neighbour is asked every few ms; every neighbour answer must be a 200. */
async function withNeighbour<T>(abuse: Promise<T>): Promise<T> {
  let stop = false;
  const statuses: number[] = [];
  const neighbour = (async () => {
    while (!stop) {
      statuses.push((await h.get('neighbour.localhost', '/')).status);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const result = await abuse;
  stop = true;
  await neighbour;
  assert.ok(statuses.length > 0, 'the neighbour was asked during the abuse');
  assert.deepEqual([...new Set(statuses)], [200], 'the neighbour answered every request');
  return result;
}

test('CPU: an endless loop is cut at the CPU limit with 503 islet-error: cpu', async () => {
  const res = await withNeighbour(h.get('spin.localhost', '/'));
  assert.equal(res.status, 503);
  assert.equal(res.headers['islet-error'], 'cpu');
  const id = String(res.headers['islet-request-id']);
  const cut = await h.waitForLog((r) => r.requestId === id && r.source === 'limit');
  assert.equal(cut.limit, 'cpu');
  assert.ok(Number(cut.measured) >= 50, `measured ${cut.measured} ms`);
  assert.match(String(cut.stack), /spin\.js:\d+/, 'the tenant stack where the loop was cut');
  // the isolate survives a CPU cut and serves its next request
  assert.equal((await h.get('spin.localhost', '/')).headers['islet-error'], 'cpu');
});

test('wall: a request that never answers is cut at the wall limit with 504 islet-error: wall', async () => {
  const res = await withNeighbour(h.get('hang.localhost', '/'));
  assert.equal(res.status, 504);
  assert.equal(res.headers['islet-error'], 'wall');
});

test('memory: unbounded growth is cut with 503 islet-error: memory and the isolate is recycled', async () => {
  const res = await withNeighbour(h.get('hog.localhost', '/hog'));
  assert.equal(res.status, 503);
  assert.equal(res.headers['islet-error'], 'memory');
  const next = await h.get('hog.localhost', '/');
  assert.equal(next.status, 200);
  assert.equal(next.text, 'held 0', 'a fresh isolate after the memory kill');
  await h.waitForLog((r) => r.msg === 'isolate retired' && r.tenant === 'hog' && r.reason === 'killed');
});

test('body: a request body over the limit is refused with 413 islet-error: body (declared or streamed)', async () => {
  const declared = await h.get('small.localhost', '/count', { method: 'POST', body: 'x'.repeat(2048) });
  assert.equal(declared.status, 413);
  assert.equal(declared.headers['islet-error'], 'body');
  async function* chunked() {
    for (let i = 0; i < 4; i++) yield Buffer.alloc(512, 1);
  }
  const streamed = await request(h.url('/count'), {
    method: 'POST',
    headers: { host: 'small.localhost' },
    body: Readable.from(chunked()),
  });
  assert.equal(streamed.statusCode, 413);
  assert.equal(streamed.headers['islet-error'], 'body');
  await streamed.body.text();
  const fits = await h.get('small.localhost', '/count', { method: 'POST', body: 'x'.repeat(1000) });
  assert.equal(fits.text, '1000');
});

test('concurrency: past the per-isolate cap requests get 503 islet-error: concurrency', async () => {
  await h.get('busy.localhost', '/');
  const results = await withNeighbour(
    Promise.all([
      h.get('busy.localhost', '/?ms=300'),
      h.get('busy.localhost', '/?ms=300'),
      h.get('busy.localhost', '/?ms=300'),
    ]),
  );
  const statuses = results.map((r) => r.status).sort();
  assert.deepEqual(statuses, [200, 200, 503]);
  assert.equal(results.find((r) => r.status === 503)!.headers['islet-error'], 'concurrency');
});

test('per-tenant limits set through the admin API (PATCH /v1/tenants/{t}) apply to the next isolate', async () => {
  const patch = await request(`http://127.0.0.1:${h.serving.adminPort}/v1/tenants/patched`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${h.serving.operatorToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ limits: { concurrency: 1 } }),
  });
  assert.equal(patch.statusCode, 200, await patch.body.text());
  // the store tells serving within about a second; then two concurrent requests exceed a cap of 1
  for (let attempt = 0; ; attempt++) {
    const results = await Promise.all([h.get('patched.localhost', '/?ms=200'), h.get('patched.localhost', '/?ms=200')]);
    const statuses = results.map((r) => r.status).sort();
    if (statuses[1] === 503) {
      assert.deepEqual(statuses, [200, 503]);
      assert.equal(results.find((r) => r.status === 503)!.headers['islet-error'], 'concurrency');
      break;
    }
    assert.ok(attempt < 20, 'the new limit was not applied within 4 s');
  }
});
