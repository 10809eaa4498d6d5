// Tenant routing: <tenant>.<baseDomain>, custom routes, longest prefix, redeploy replacing routes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TenantRouter, parseRoute } from '../../server/front/router';
import { RoutePatternError } from '../../server/errors';

test('a tenant answers on <tenant>.<baseDomain>, and only one label deep', () => {
  const router = new TenantRouter('fn.example.com');
  assert.deepEqual(router.match('shop.fn.example.com', '/'), { tenant: 'shop', via: 'host' });
  assert.equal(router.match('a.shop.fn.example.com', '/'), null);
  assert.equal(router.match('fn.example.com', '/'), null);
  assert.equal(router.match('shop.example.com', '/'), null);
});

test('custom routes: longest prefix wins, exact paths, other hosts do not match', () => {
  const router = new TenantRouter('localhost');
  router.setRoutes('site', ['shop.example.com/*']);
  router.setRoutes('api', ['shop.example.com/api/*', 'shop.example.com/health']);
  assert.equal(router.match('shop.example.com', '/cart')?.tenant, 'site');
  assert.equal(router.match('shop.example.com', '/api/items')?.tenant, 'api');
  assert.equal(router.match('shop.example.com', '/api')?.tenant, 'site');
  assert.equal(router.match('shop.example.com', '/health')?.tenant, 'api');
  assert.equal(router.match('shop.example.com', '/healthz')?.tenant, 'site');
  assert.equal(router.match('www.example.com', '/api/items'), null);
  assert.equal(router.match('shop.example.com', '/api/items')?.pattern, 'shop.example.com/api/*');
});

test('wildcard hosts match subdomains, nearest suffix first', () => {
  const router = new TenantRouter('localhost');
  router.setRoutes('all', ['*.example.com/*']);
  router.setRoutes('eu', ['*.eu.example.com/*']);
  assert.equal(router.match('a.example.com', '/')?.tenant, 'all');
  assert.equal(router.match('x.eu.example.com', '/')?.tenant, 'eu');
  assert.equal(router.match('example.com', '/'), null);
});

test('setting routes again replaces the old ones; removing a tenant drops them', () => {
  const router = new TenantRouter('localhost');
  router.setRoutes('blog', ['blog.example.com/*']);
  router.setRoutes('blog', ['news.example.com/*']);
  assert.equal(router.match('blog.example.com', '/'), null);
  assert.equal(router.match('news.example.com', '/')?.tenant, 'blog');
  router.removeTenant('blog');
  assert.equal(router.match('news.example.com', '/'), null);
});

test('bad patterns are refused with the pattern and the reason, leaving routes unchanged', () => {
  const router = new TenantRouter('localhost');
  router.setRoutes('blog', ['blog.example.com/*']);
  for (const bad of ['/only-path*', 'no-path.example.com', 'bad_host.com/*', 'a.com/x*y*', 'a.com/x?q=1*']) {
    assert.throws(
      () => router.setRoutes('blog', [bad]),
      (err: unknown) => err instanceof RoutePatternError && err.message.includes(`'${bad}'`),
    );
  }
  assert.equal(router.match('blog.example.com', '/x')?.tenant, 'blog');
  assert.deepEqual(parseRoute('Shop.Example.com/api/*'), { host: 'shop.example.com', path: '/api/', exact: false });
});
