// Requests no function answers (a bad Host, a host no route matches, a tenant without a
// deployment) are counted, under tenant="_none": never under the name the client sent, which
// would let anyone mint tenant series by inventing host names.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { type Islet, startIslet, TOKEN } from '../e2e/islet';

let islet: Islet;
before(async () => {
  islet = await startIslet();
});
after(() => islet?.close());

async function scrape(): Promise<string> {
  const res = await fetch(`${islet.adminBase}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  return res.text();
}

test('requests to hosts with no function are counted under tenant="_none"', async () => {
  for (const host of ['nobody.localhost', 'invented-1.localhost', 'www.example.test']) {
    const res = await request(`${islet.tenantBase}/x`, { headers: { host } });
    assert.equal(res.statusCode, 404);
    await res.body.dump();
  }
  const bad = await request(`${islet.tenantBase}/x`, { headers: { host: 'a b' } });
  assert.equal(bad.statusCode, 400);
  await bad.body.dump();
  const text = await scrape();
  assert.match(text, /^islet_requests_total\{tenant="_none",status="404"\} 3$/m);
  assert.match(text, /^islet_requests_total\{tenant="_none",status="400"\} 1$/m);
  assert.doesNotMatch(text, /tenant="(nobody|invented-1)"/);
});
