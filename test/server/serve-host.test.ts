// Where a request goes: the host name that routes it, read the same way by the front
// (front/host.ts requestTarget) and by the supervisor that hands connections to workers
// (cluster/routing.ts hostOf, from the raw request head).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHost, requestTarget } from '../../server/front/host';
import { hostOf } from '../../server/cluster/routing';

const head = (text: string) => Buffer.from(text.replaceAll('\n', '\r\n'), 'latin1');

test('an origin-form request goes where its Host header says, lower-cased and without the port', () => {
  assert.deepEqual(requestTarget('/a/b?c=1', 'Shop.Example.COM:8080'), {
    hostname: 'shop.example.com',
    authority: 'Shop.Example.COM:8080',
    path: '/a/b?c=1',
  });
  assert.deepEqual(requestTarget('/', 'shop.example.com.'), {
    hostname: 'shop.example.com',
    authority: 'shop.example.com.',
    path: '/',
  });
});

test('an absolute-form request target wins over the Host header (RFC 9112 3.2.2)', () => {
  assert.deepEqual(requestTarget('http://T.localhost:9000/p?q=1', 'other.localhost'), {
    hostname: 't.localhost',
    authority: 'T.localhost:9000',
    path: '/p?q=1',
  });
  // no Host header at all is fine then; an empty path is '/', a query alone gets its '/'
  assert.deepEqual(requestTarget('https://t.localhost', undefined), {
    hostname: 't.localhost',
    authority: 't.localhost',
    path: '/',
  });
  assert.deepEqual(requestTarget('HTTP://t.localhost?x=1', undefined), {
    hostname: 't.localhost',
    authority: 't.localhost',
    path: '/?x=1',
  });
});

test('IPv6 literals keep their brackets and lose their port', () => {
  assert.equal(parseHost('[::1]'), '[::1]');
  assert.equal(parseHost('[2001:DB8::1]:8443'), '[2001:db8::1]');
  assert.equal(parseHost('[::ffff:127.0.0.1]:80'), '[::ffff:127.0.0.1]');
  assert.deepEqual(requestTarget('http://[::1]:8080/x', 'ignored'), {
    hostname: '[::1]',
    authority: '[::1]:8080',
    path: '/x',
  });
  for (const bad of ['[::1', '[::1]x', '[::1]:', '[::1]:123456', '[zz::1]', '[]'])
    assert.equal(parseHost(bad), null, bad);
});

test('ports must be 1 to 5 digits; anything that is not a host name is refused', () => {
  assert.equal(parseHost('a.example:1'), 'a.example');
  assert.equal(parseHost('a.example:65535'), 'a.example');
  for (const bad of [
    'a.example:',
    'a.example:123456',
    'a.example:8x',
    'a.example:-1',
    ':80',
    'a b',
    'a_b.example',
    'user@a.example',
    'a/b',
    '.',
    '',
    `${'a'.repeat(254)}`,
  ]) {
    assert.equal(parseHost(bad), null, JSON.stringify(bad));
  }
});

test('a request that cannot be routed says why, as the 400 answer will', () => {
  assert.match((requestTarget('/', undefined) as { problem: string }).problem, /missing Host header/);
  assert.match((requestTarget('/', '') as { problem: string }).problem, /missing Host header/);
  assert.match((requestTarget('/', 'bad host!') as { problem: string }).problem, /bad Host header 'bad host!'/);
  for (const target of ['*', 'ftp://t.localhost/', 'example.com/x', 'http:///x']) {
    assert.match(
      (requestTarget(target, 't.localhost') as { problem: string }).problem,
      /bad request target|bad Host header/,
      target,
    );
  }
  // a hostile Host header is cut short in the message
  const long = (requestTarget('/', 'x'.repeat(5000) + ' ') as { problem: string }).problem;
  assert.ok(long.length < 200, long);
});

test('the supervisor routes a connection by the host of its first request, absolute-form targets included', () => {
  assert.equal(hostOf(head('GET / HTTP/1.1\nHost: T.localhost:8080\n\n')), 't.localhost');
  assert.equal(hostOf(head('GET http://t.localhost/x HTTP/1.1\nHost: other.localhost\n\n')), 't.localhost');
  assert.equal(hostOf(head('GET http://t.localhost/x HTTP/1.1\n\n')), 't.localhost');
  assert.equal(hostOf(head('POST /upload HTTP/1.1\nContent-Length: 3\nhost:\t[::1]:9000\n\nabc')), '[::1]');
  // a head cut short before its end (the primary stops reading at its size limit) still routes
  assert.equal(hostOf(head('GET / HTTP/1.1\nHost: t.localhost\nX-Long: aaaa')), 't.localhost');
  // nothing routable: '' (the worker that gets it answers 400)
  assert.equal(hostOf(head('GET / HTTP/1.1\nAccept: */*\n\n')), '');
  assert.equal(hostOf(head('GET / HTTP/1.1\nHost: bad host!\n\n')), '');
  assert.equal(hostOf(head('garbage')), '');
});
