// The dashboard's pieces that need no browser: the page and its files as the admin port serves
// them, and the arithmetic the page does on /metrics text (rates, quantiles, limit events) and on
// picked files (paths, entry guess). The browser-driven suite (dashboard.test.ts) covers the rest.
import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { createDashboard } from '../../server/admin/dashboard';

const root = path.resolve(__dirname, '../../..');
const asset = (name: string) => pathToFileURL(path.join(root, 'server/admin/dashboard/assets', name)).href;

describe('dashboard page', () => {
  const app = createDashboard();

  it('serves the page at / with a strict content security policy and no data in it', async () => {
    const res = await app.request('/');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    const html = await res.text();
    assert.match(html, /^<!doctype html>/);
    assert.match(html, /<form id="signin-form"/);
    // every script and stylesheet comes from islet itself
    for (const [, url] of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
      assert.ok(url!.startsWith('/') || url!.startsWith('#') || url!.startsWith('data:'), `external reference ${url}`);
    }
  });

  it('serves its files with a content hash ETag and answers 304 to a matching If-None-Match', async () => {
    const res = await app.request('/dashboard/app.mjs');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /javascript/);
    const etag = res.headers.get('etag');
    assert.ok(etag);
    const again = await app.request('/dashboard/app.mjs', { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
  });

  it('answers 404 with a JSON error for files it does not have, including path tricks', async () => {
    for (const name of ['nope.mjs', '..%2F..%2Fpackage.json', '%2e%2e%2Findex.tsx']) {
      const res = await app.request(`/dashboard/${name}`);
      assert.equal(res.status, 404, name);
      const body = (await res.json()) as { error: { code: string } };
      assert.equal(body.error.code, 'NOT_FOUND');
    }
  });
});

describe('dashboard metrics arithmetic', () => {
  it('parses exposition text with labels, escapes and special values', async () => {
    const { parseMetrics } = await import(asset('prom.mjs'));
    const samples = parseMetrics(
      [
        '# HELP islet_requests_total Requests',
        '# TYPE islet_requests_total counter',
        'islet_requests_total{tenant="a",status="200"} 12',
        'islet_requests_total{tenant="we\\"ird",status="500"} 3 1700000000000',
        'islet_isolates{state="warm"} 2',
        'up +Inf',
        '',
      ].join('\n'),
    );
    assert.deepEqual(samples, [
      { name: 'islet_requests_total', labels: { tenant: 'a', status: '200' }, value: 12 },
      { name: 'islet_requests_total', labels: { tenant: 'we"ird', status: '500' }, value: 3 },
      { name: 'islet_isolates', labels: { state: 'warm' }, value: 2 },
      { name: 'up', labels: {}, value: Infinity },
    ]);
  });

  it('computes quantiles from cumulative buckets like histogram_quantile', async () => {
    const { quantile } = await import(asset('prom.mjs'));
    const buckets = new Map([
      [0.01, 50],
      [0.1, 90],
      [1, 100],
      [Infinity, 100],
    ]);
    assert.equal(quantile(buckets, 0.5), 0.01);
    assert.ok(Math.abs(quantile(buckets, 0.7) - 0.055) < 1e-9);
    assert.ok(Math.abs(quantile(buckets, 0.99) - 0.91) < 1e-9);
    assert.equal(
      quantile(
        new Map([
          [0.1, 0],
          [Infinity, 0],
        ]),
        0.5,
      ),
      null,
    );
    // a quantile in the +Inf bucket answers the largest finite bound
    assert.equal(
      quantile(
        new Map([
          [0.1, 1],
          [Infinity, 10],
        ]),
        0.99,
      ),
      0.1,
    );
  });

  it('turns two scrapes into per-tenant rates, error ratio, latency and limit events', async () => {
    const { Stats } = await import(asset('stats.mjs'));
    const scrape = (ok: number, failed: number, fast: number, slow: number, cpu: number, cuts: number) =>
      [
        `islet_requests_total{tenant="shop",status="200"} ${ok}`,
        `islet_requests_total{tenant="shop",status="503"} ${failed}`,
        `islet_request_duration_seconds_bucket{tenant="shop",le="0.005"} ${fast}`,
        `islet_request_duration_seconds_bucket{tenant="shop",le="0.5"} ${fast + slow}`,
        `islet_request_duration_seconds_bucket{tenant="shop",le="+Inf"} ${fast + slow}`,
        `islet_isolate_cpu_seconds_total{tenant="shop"} ${cpu}`,
        `islet_isolate_heap_used_bytes{tenant="shop"} 4000000`,
        `islet_isolate_external_bytes{tenant="shop"} 1000`,
        `islet_limit_exceeded_total{tenant="shop",limit="cpu"} ${cuts}`,
      ].join('\n');
    const stats = new Stats();
    assert.deepEqual(stats.update(scrape(10, 0, 10, 0, 0.5, 1), 1000), [], 'the first scrape is only a baseline');
    const events = stats.update(scrape(28, 2, 29, 1, 0.7, 3), 3000);
    const now = stats.latest('shop');
    assert.equal(now.rps, 10);
    assert.equal(now.errors, 0.1);
    assert.ok(now.p50 > 0 && now.p50 <= 0.005);
    assert.ok(now.p99 > 0.005 && now.p99 <= 0.5);
    assert.ok(Math.abs(now.cpu - 0.1) < 1e-9);
    assert.equal(now.memory, 4001000);
    assert.deepEqual(events, [{ time: 3000, tenant: 'shop', limit: 'cpu', count: 2 }]);
    assert.equal(stats.limitTotals.get('shop\u0000cpu'), 3);
  });

  it('treats a counter that went down (server restart) as counting from zero', async () => {
    const { Stats } = await import(asset('stats.mjs'));
    const stats = new Stats();
    stats.update('islet_requests_total{tenant="t",status="200"} 500', 0);
    stats.update('islet_requests_total{tenant="t",status="200"} 4', 2000);
    assert.equal(stats.latest('t').rps, 2);
  });
});

describe('dashboard upload preparation', () => {
  const file = (p: string) => ({ path: p, file: { size: 1 } });

  it('strips the dropped folder name, skips VCS litter and node_modules unless bundling', async () => {
    const { prepare } = await import(asset('upload.mjs'));
    const picked = [file('fn/index.ts'), file('fn/lib/a.ts'), file('fn/.git/HEAD'), file('fn/node_modules/x/index.js')];
    assert.deepEqual(
      prepare(picked).map((f: { path: string }) => f.path),
      ['index.ts', 'lib/a.ts'],
    );
    assert.deepEqual(
      prepare(picked, { keepNodeModules: true }).map((f: { path: string }) => f.path),
      ['index.ts', 'lib/a.ts', 'node_modules/x/index.js'],
    );
    // files picked one by one keep their names
    assert.deepEqual(
      prepare([file('a.js'), file('b.js')]).map((f: { path: string }) => f.path),
      ['a.js', 'b.js'],
    );
  });

  it('proposes the entry the build would pick', async () => {
    const { guessEntry } = await import(asset('upload.mjs'));
    assert.equal(guessEntry([file('worker.js')]), 'worker.js');
    assert.equal(guessEntry([file('lib/a.ts'), file('index.ts')]), 'index.ts');
    assert.equal(guessEntry([file('src/index.ts'), file('src/b.ts')]), 'src/index.ts');
    assert.equal(guessEntry([file('a.ts'), file('b.ts')]), '');
  });
});
