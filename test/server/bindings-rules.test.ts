// The rules of the bindings as pure functions: what the Cache API keeps and for how long, when a
// match is a 304, what a wrangler file means (JSON with comments and trailing commas, custom
// domains, KV ids defaulting to the binding), how a tenant's and a deployment's bindings merge.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { notModified, storeDecision } from '../../server/bindings/cache/policy';
import { checkDeclarations, cronProblem } from '../../server/bindings/declarations';
import { acceptsCaller, resolveBindings } from '../../server/bindings/resolve';
import { readWranglerConfig } from '../../server/deploy/wrangler/config';
import { parseConfig } from '../../server/deploy/wrangler/parse';

const now = Date.parse('2026-01-01T00:00:00Z');

test('cache TTLs: s-maxage over max-age over Expires (against Date) over the default of the status', () => {
  const ttl = (status: number, headers: string[]) => {
    const d = storeDecision(status, headers, now);
    return d.store ? d.ttlMs / 1000 : null;
  };
  assert.equal(ttl(200, ['cache-control', 'max-age=10, s-maxage=20']), 20);
  assert.equal(ttl(200, ['cache-control', 'public, max-age=10']), 10);
  assert.equal(ttl(200, ['expires', 'Thu, 01 Jan 2026 00:01:00 GMT']), 60);
  assert.equal(ttl(200, ['expires', 'Thu, 01 Jan 2026 00:01:00 GMT', 'date', 'Thu, 01 Jan 2026 00:00:30 GMT']), 30);
  assert.equal(ttl(200, []), 7200);
  assert.equal(ttl(301, []), 7200);
  assert.equal(ttl(302, []), 1200);
  assert.equal(ttl(404, []), 180);
  assert.equal(ttl(500, []), null);
  assert.equal(ttl(200, ['cache-control', 'max-age=abc']), 7200, 'a malformed max-age is no max-age');
  assert.equal(ttl(200, ['cache-control', 'private="x-user"', 'set-cookie', 'a=1']), null);
  const kept = storeDecision(
    200,
    ['set-cookie', 'a=1', 'cache-control', 'max-age=5, private=Set-Cookie', 'x', 'y'],
    now,
  );
  assert.deepEqual(kept, {
    store: true,
    ttlMs: 5000,
    headers: ['cache-control', 'max-age=5, private=Set-Cookie', 'x', 'y'],
  });
});

test('304 for a conditional match: If-None-Match wins over If-Modified-Since', () => {
  const stored = ['etag', '"a"', 'last-modified', 'Thu, 01 Jan 2026 00:00:00 GMT'];
  assert.equal(notModified(stored, ['if-none-match', 'W/"a"']), true);
  assert.equal(
    notModified(stored, ['if-none-match', '"b"', 'if-modified-since', 'Fri, 02 Jan 2026 00:00:00 GMT']),
    false,
  );
  assert.equal(notModified(stored, ['if-modified-since', 'Fri, 02 Jan 2026 00:00:00 GMT']), true);
  assert.equal(notModified(stored, ['if-modified-since', 'not a date']), false);
  assert.equal(notModified(['x', 'y'], ['if-none-match', '"a"']), false, 'no ETag stored');
  assert.equal(notModified(stored, []), false);
});

test('wrangler.jsonc with comments and trailing commas; custom domains; KV ids default to the binding', () => {
  const raw = parseConfig(
    'wrangler.jsonc',
    `{
      // the worker
      "name": "blog",
      "routes": [{ "pattern": "blog.example.com", "custom_domain": true }, "*.example.com/feed*",],
      "kv_namespaces": [{ "binding": "POSTS" }, { "binding": "DRAFTS", "id": "drafts", "preview_id": "p" },],
      /* block comment */
      "services": [{ "binding": "AUTH", "service": "auth", "environment": "production" }],
    }`,
  );
  const config = readWranglerConfig({ file: 'wrangler.jsonc', raw, ignored: ['wrangler.toml'] });
  assert.equal(config.name, 'blog');
  assert.deepEqual(config.routes, ['blog.example.com/*', '*.example.com/feed*']);
  assert.deepEqual(config.bindings.kv_namespaces, [
    { binding: 'POSTS', id: 'POSTS' },
    { binding: 'DRAFTS', id: 'drafts' },
  ]);
  assert.deepEqual(config.bindings.services, [{ binding: 'AUTH', service: 'auth' }]);
  assert.deepEqual(config.warnings, [
    'wrangler.jsonc is read; wrangler.toml ignored (one config file at a time)',
    "wrangler.jsonc: services: environment 'production' ignored",
  ]);
});

test('declarations: every problem named by its key; cron expressions checked by croner', () => {
  assert.equal(cronProblem('*/5 * * * *'), null);
  assert.equal(cronProblem('0 12 * * MON-FRI'), null);
  assert.match(cronProblem('61 * * * *')!, /.+/);
  assert.match(cronProblem('* * * * * *')!, /expected five fields/);
  const { problems } = checkDeclarations({
    vars: { OK: 'x', 'not-ok': 'y', NUL: null },
    services: [{ binding: 'S', service: 'svc', entrypoint: 'Admin' }],
    route_origins: { 'a.example/*': 'https://user:pw@origin.example' },
  });
  assert.deepEqual(problems, [
    'vars.not-ok: expected a JavaScript identifier as the name',
    'vars.NUL: expected a string or a JSON value',
    'services[0].entrypoint: named entrypoints are not supported yet (fetch() only)',
    'route_origins["a.example/*"]: the URL may not carry credentials',
  ]);
});

test("merging: the deployment's binding of a name wins, its triggers replace the tenant's, callers stay the tenant's", () => {
  const merged = resolveBindings(
    {
      vars: { A: 'tenant', B: 'tenant' },
      kv_namespaces: [{ binding: 'C', id: 'c' }],
      crons: ['0 * * * *'],
      callers: ['web'],
    },
    { kv_namespaces: [{ binding: 'A', id: 'a' }], crons: ['*/5 * * * *'], callers: ['ignored'] },
  );
  assert.deepEqual(merged.vars, { B: 'tenant' });
  assert.deepEqual(merged.kv, { C: 'c', A: 'a' });
  assert.deepEqual(merged.crons, ['*/5 * * * *']);
  assert.deepEqual(merged.callers, ['web']);
  assert.equal(acceptsCaller(merged, 'web'), true);
  assert.equal(acceptsCaller(merged, 'other'), false);
  assert.equal(acceptsCaller(resolveBindings({ callers: ['*'] }, undefined), 'anyone'), true);
  assert.deepEqual(
    resolveBindings({ crons: ['0 * * * *'] }, {}).crons,
    ['0 * * * *'],
    "no triggers declared: the tenant's",
  );
});
