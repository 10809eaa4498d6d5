// Which hostnames a tenant's routes may name (server/deploy/hostnames.ts), how a tenant proves one
// (server/deploy/hostname-proof.ts), and how its cookies stay on its own names (front/cookies.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { covers, reservedHost } from '../../server/deploy/hostnames';
import { proveHostname, type ProofSettings } from '../../server/deploy/hostname-proof';
import { scopeCookie } from '../../server/front/cookies';
import type { HostnameRecord } from '../../server/store/types';

test('the base domain and every name under it are reserved, but a tenant its own name', () => {
  for (const host of [
    'localhost',
    'sqb.localhost',
    'login.sqb.localhost',
    '*.localhost',
    '*.sqb.localhost',
    'a.b.localhost',
  ]) {
    assert.equal(reservedHost(host, 'localhost', 'grabber'), true, host);
  }
  assert.equal(reservedHost('grabber.localhost', 'localhost', 'grabber'), false);
  assert.equal(
    reservedHost('*.grabber.localhost', 'localhost', 'grabber'),
    true,
    'not its subdomains: they are no tenant names',
  );
  // a wildcard over the base domain reaches into it too
  assert.equal(reservedHost('*.example.com', 'islet.example.com', 't'), true);
  assert.equal(reservedHost('example.com', 'islet.example.com', 't'), false);
  assert.equal(reservedHost('shop.example.org', 'localhost', 't'), false);
  assert.equal(reservedHost('notlocalhost', 'localhost', 't'), false);
});

test('a proved or assigned hostname covers itself; a zone covers every name and wildcard under it', () => {
  const record = (hostname: string): HostnameRecord => ({
    tenant: 't',
    hostname,
    token: 'x'.repeat(16),
    verifiedBy: 'dns',
    createdAt: '',
  });
  assert.ok(covers(record('shop.example.com'), 'shop.example.com'));
  assert.ok(!covers(record('shop.example.com'), 'www.shop.example.com'));
  assert.ok(!covers(record('shop.example.com'), '*.shop.example.com'));
  assert.ok(covers(record('*.example.com'), 'shop.example.com'));
  assert.ok(covers(record('*.example.com'), 'example.com'));
  assert.ok(covers(record('*.example.com'), '*.a.example.com'));
  assert.ok(!covers(record('*.example.com'), 'badexample.com'));
  assert.ok(!covers(record('*.example.com'), 'example.com.evil.org'));
});

const settings = (verification: ProofSettings['verification']): ProofSettings => ({
  verification,
  httpPort: 80,
  checkTimeoutMs: 1000,
  egress: { allow: [] },
});

test('DNS proof: the token in a TXT record at _islet-challenge.<name>; wildcards are proved at the zone', async () => {
  const asked: string[] = [];
  const txt = (records: Record<string, string[][]>) => async (name: string) => {
    asked.push(name);
    const found = records[name];
    if (!found) throw Object.assign(new Error('queryTxt ENOTFOUND'), { code: 'ENOTFOUND' });
    return found;
  };
  const token = 'islet_0123456789abcdefghij';
  const ok = await proveHostname('*.shop.example', token, settings('http'), {
    resolveTxt: txt({ '_islet-challenge.shop.example': [['other'], ['islet_0123456789', 'abcdefghij']] }),
  });
  assert.deepEqual(ok, { ok: true, method: 'dns' });
  const wrong = await proveHostname('www.shop.example', token, settings('dns'), {
    resolveTxt: txt({ '_islet-challenge.www.shop.example': [['nope']] }),
  });
  assert.equal(wrong.ok, false);
  assert.match((wrong as { why: string }).why, /do not hold the token \(found 1 other value\)/);
  const missing = await proveHostname('x.shop.example', token, settings('dns'), { resolveTxt: txt({}) });
  assert.match(
    (missing as { why: string }).why,
    /no TXT record at _islet-challenge\.x\.shop\.example \(DNS answered ENOTFOUND\)/,
  );
  assert.deepEqual(asked, [
    '_islet-challenge.shop.example',
    '_islet-challenge.www.shop.example',
    '_islet-challenge.x.shop.example',
  ]);
  const none = await proveHostname('x.shop.example', token, settings('none'));
  assert.match((none as { why: string }).why, /the operator assigns them/);
});

test('HTTP proof goes through the egress guard: a name resolving inward is refused, nothing is fetched', async () => {
  const res = await proveHostname('localhost', 'islet_0123456789abcdefghij', settings('http'));
  assert.equal(res.ok, false);
  assert.match((res as { why: string }).why, /refused: .* is a loopback, private, link-local or reserved address/);
});

test('Set-Cookie: a Domain reaching other tenants is removed, the own name and host are kept', () => {
  const scope = { host: 'baker.localhost', own: 'baker.localhost' };
  assert.equal(scopeCookie('a=1; Domain=localhost; Path=/', scope), 'a=1; Path=/');
  assert.equal(scopeCookie('b=2; Path=/; domain=.SQB.localhost; HttpOnly', scope), 'b=2; Path=/; HttpOnly');
  assert.equal(scopeCookie('c=3; Domain=baker.localhost', scope), 'c=3; Domain=baker.localhost');
  assert.equal(scopeCookie('c=3; Domain=.baker.localhost', scope), 'c=3; Domain=.baker.localhost');
  assert.equal(scopeCookie('d=4; Secure', scope), 'd=4; Secure');
  // on a custom hostname: its own name only, not the zone other tenants' hosts may share
  const custom = { host: 'shop.example.com', own: 'shop.localhost' };
  assert.equal(scopeCookie('e=5; Domain=example.com', custom), 'e=5');
  assert.equal(scopeCookie('e=5; Domain=shop.example.com', custom), 'e=5; Domain=shop.example.com');
  assert.equal(scopeCookie('e=5; Domain=shop.localhost', custom), 'e=5');
  // a value with "domain=" inside it is no attribute
  assert.equal(scopeCookie('f=domain=localhost; Path=/', scope), 'f=domain=localhost; Path=/');
});
