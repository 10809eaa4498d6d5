// Deployments meeting the real server: an upload through the admin port is served on the tenant
// port, and rolling back and forth under live traffic fails no request.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { eventually, startHarness, type Harness } from './serve-harness';

describe('deploy + serve', () => {
  let harness: Harness;
  let admin: string;
  const token = 'test-operator-token';
  before(async () => {
    harness = await startHarness();
    admin = `http://127.0.0.1:${harness.serving.adminPort}`;
  });
  after(async () => harness.close());

  async function upload(tenant: string, body: string): Promise<{ id: string; url: string }> {
    const res = await request(`${admin}/v1/tenants/${tenant}/deployments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/typescript' },
      body,
    });
    const json = (await res.body.json()) as { id: string; url: string };
    assert.equal(res.statusCode, 201, JSON.stringify(json));
    return json;
  }
  const version = (v: string) => `export default { fetch(): Response { return new Response('${v}'); } };`;

  test('an upload through the admin API is served, with its URL answered by the API', async () => {
    const { id, url } = await upload('fresh', version('first'));
    assert.equal(url, `http://fresh.localhost:${harness.serving.tenantPort}/`);
    // the code cache made by the isolate check at upload is stored with the deployment
    const cache = await harness.serving.store.readCodeCache('fresh', id, 'index.js', process.versions.v8);
    assert.ok(cache && cache.length > 0, 'code cache stored at deploy time');
    const res = await eventually(async () => {
      const r = await harness.get('fresh.localhost');
      return r.status === 200 ? r : null;
    });
    assert.equal(res!.text, 'first');
  });

  test('a function whose top-level code throws is refused at upload by the isolate check', async () => {
    const res = await request(`${admin}/v1/tenants/broken/deployments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/javascript' },
      body: 'throw new Error("top-level failure");\nexport default { fetch() { return new Response("never") } };',
    });
    const json = (await res.body.json()) as { error: { code: string; message: string } };
    assert.equal(res.statusCode, 400);
    assert.equal(json.error.code, 'DEPLOYMENT_REJECTED');
    assert.match(json.error.message, /top-level failure/);
    assert.equal(await harness.serving.store.getTenant('broken').then((t) => t?.active ?? null), null);
  });

  test("the upload check runs under the tenant's own memory limit, not only the default", async () => {
    // top-level code holding 160 MB: over the default 128 MB, under this tenant's 256 MB
    const body =
      'const big = new Uint8Array(160 * 1024 * 1024); big[1] = 1;\nexport default { fetch() { return new Response(String(big.length)); } };';
    const post = () =>
      request(`${admin}/v1/tenants/roomy/deployments`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/javascript' },
        body,
      });
    const refused = await post();
    const error = ((await refused.body.json()) as { error: { code: string; message: string } }).error;
    assert.equal(refused.statusCode, 400);
    assert.equal(error.code, 'DEPLOYMENT_REJECTED');
    assert.match(error.message, /memory/i);
    const created = await request(`${admin}/v1/tenants/roomy`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ limits: { memoryMb: 256 } }),
    });
    assert.equal(created.statusCode, 201, await created.body.text());
    const accepted = await post();
    assert.equal(accepted.statusCode, 201, await accepted.body.text());
    const res = await eventually(async () => {
      const r = await harness.get('roomy.localhost');
      return r.status === 200 ? r : null;
    });
    assert.equal(res!.text, String(160 * 1024 * 1024));
  });

  test('rolling back and forth under live traffic fails no request', async () => {
    const v1 = await upload('live', version('v1'));
    const v2 = await upload('live', version('v2'));
    await eventually(async () => (await harness.get('live.localhost')).text === 'v2');
    const seen: { status: number; text: string }[] = [];
    let running = true;
    const client = async () => {
      while (running) {
        const r = await harness.get('live.localhost');
        seen.push({ status: r.status, text: r.text });
      }
    };
    const clients = Promise.all([client(), client(), client(), client()]);
    for (const [id, text] of [
      [v1.id, 'v1'],
      [v2.id, 'v2'],
      [v1.id, 'v1'],
      [v2.id, 'v2'],
    ] as const) {
      const res = await request(`${admin}/v1/tenants/live/deployments/${id}/activate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(res.statusCode, 200);
      await res.body.dump();
      // wait until traffic shows the switch, then keep it running a little longer
      await eventually(() => seen.length > 0 && seen.at(-1)!.text === text, 10_000);
      const mark = seen.length;
      await eventually(() => seen.length >= mark + 20, 10_000);
    }
    running = false;
    await clients;
    const failed = seen.filter((r) => r.status !== 200 || (r.text !== 'v1' && r.text !== 'v2'));
    assert.deepEqual(failed, [], `${failed.length} of ${seen.length} requests failed`);
    assert.ok(seen.length >= 80);
  });

  test('a restarted server serves what was active, from the same data folder', async () => {
    const before = await harness.serving.store.getTenant('live');
    const dataDir = harness.dataDir;
    await harness.close();
    harness = await startHarness(undefined, dataDir);
    admin = `http://127.0.0.1:${harness.serving.adminPort}`;
    assert.deepEqual(await harness.serving.store.getTenant('live'), before);
    const res = await harness.get('live.localhost');
    assert.deepEqual([res.status, res.text], [200, 'v2']);
    assert.equal((await harness.get('fresh.localhost')).text, 'first');
  });
});
