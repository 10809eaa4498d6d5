// The request.cf settings: trustedProxies and cf.* from the environment, and what a bad value
// is told (each problem names its setting and what was wrong).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { loadConfig } from '../../server/config';
import { ConfigError } from '../../server/errors';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig({ env });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    return err.problems;
  }
  assert.fail('expected loadConfig to throw');
}

test('the cf settings default to trusting nobody, and come from ISLET_* variables', () => {
  const defaults = loadConfig({ env: {} });
  assert.deepEqual(defaults.trustedProxies, []);
  assert.deepEqual(defaults.cf, {
    blobHeader: '',
    headers: [],
    geoip: [],
    colo: '',
    clientIpHeader: 'x-forwarded-for',
  });
  const config = loadConfig({
    env: {
      ISLET_TRUSTED_PROXIES: '10.0.0.0/8, 192.168.1.7, [fd00::1]',
      ISLET_CF_BLOB_HEADER: 'x-cf',
      ISLET_CF_HEADERS: 'country=x-country,asn=x-asn',
      ISLET_CF_COLO: 'FRA',
      ISLET_CF_GEOIP: 'test/fixtures/geoip/GeoLite2-ASN-Test.mmdb',
    },
    cwd: path.resolve(__dirname, '../../..'),
  });
  assert.deepEqual(config.trustedProxies, ['10.0.0.0/8', '192.168.1.7', '[fd00::1]']);
  assert.equal(config.cf.blobHeader, 'x-cf');
  assert.deepEqual(config.cf.headers, ['country=x-country', 'asn=x-asn']);
  assert.equal(config.cf.colo, 'FRA');
  assert.ok(path.isAbsolute(config.cf.geoip[0]!), 'relative GeoIP paths resolve against the working directory');
});

test('bad trusted proxies, field headers and GeoIP files are each reported', () => {
  const problems = problemsOf({
    ISLET_TRUSTED_PROXIES: 'proxy.internal,10.0.0.0/40',
    ISLET_CF_HEADERS: 'county=x-country,country,asn=x asn',
    ISLET_CF_GEOIP: '/nonexistent/City.mmdb',
    ISLET_CF_BLOB_HEADER: 'X Cf',
  });
  const text = problems.join('\n');
  assert.match(text, /ISLET_CF_BLOB_HEADER \(cf\.blobHeader\): got "X Cf", expected a lower-case header name/);
  // the others are checked once every value has its type
  const rest = problemsOf({
    ISLET_TRUSTED_PROXIES: 'proxy.internal,10.0.0.0/40',
    ISLET_CF_HEADERS: 'county=x-country',
    ISLET_CF_GEOIP: '/nonexistent/City.mmdb',
  }).join('\n');
  assert.match(rest, /trustedProxies \(ISLET_TRUSTED_PROXIES\): "proxy.internal" is not an IP address or CIDR/);
  assert.match(rest, /trustedProxies \(ISLET_TRUSTED_PROXIES\): .*"10.0.0.0\/40": bad prefix length/);
  assert.match(
    rest,
    /cf\.headers \(ISLET_CF_HEADERS\): "county=x-country": unknown field county \(known: httpProtocol/,
  );
  assert.match(rest, /cf\.geoip \(ISLET_CF_GEOIP\): \/nonexistent\/City\.mmdb does not exist/);
  assert.match(problemsOf({ ISLET_CF_HEADERS: 'country' }).join('\n'), /"country": expected field=header/);
  assert.match(problemsOf({ ISLET_CF_HEADERS: 'asn=x asn' }).join('\n'), /x asn is not a header name/);
  assert.match(
    problemsOf({ ISLET_CF_HEADERS: 'country=x-cf', ISLET_CF_BLOB_HEADER: 'x-cf' }).join('\n'),
    /x-cf is also cf\.blobHeader/,
  );
});
