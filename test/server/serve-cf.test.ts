// request.cf on a real islet: a Workers request.cf reader deployed unmodified behind a trusted
// proxy (127.0.0.1) that sends geo field headers, a whole cf object as JSON (cf.blobHeader) and
// the client's address for the GeoIP databases (MaxMind's test files, test/fixtures/geoip/); the
// same headers from an untrusted peer (a connection from 127.0.0.2) are removed before the
// function sees them and set nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { startHarness, repoRoot, type Harness } from './serve-harness';

const reader = `
export default {
  async fetch(request) {
    const cf = request.cf;
    return Response.json({
      exists: typeof cf === 'object' && cf !== null,
      cf,
      country: cf.country,
      colo: cf.colo,
      tlsVersion: cf.tlsVersion,
      copied: new Request(request).cf === cf,
      headers: [...request.headers.keys()],
    });
  },
};`;

let h: Harness;
before(async () => {
  const geoip = path.join(repoRoot, 'test', 'fixtures', 'geoip');
  h = await startHarness((config) => {
    config.trustedProxies = ['127.0.0.1/32'];
    config.cf = {
      blobHeader: 'x-cf-blob',
      headers: ['country=x-geo-country', 'city=x-geo-city', 'clientTcpRtt=x-rtt', 'tlsVersion=x-tls-version'],
      geoip: [path.join(geoip, 'GeoIP2-City-Test.mmdb'), path.join(geoip, 'GeoLite2-ASN-Test.mmdb')],
      colo: 'TST',
      clientIpHeader: 'x-forwarded-for',
    };
  });
  await h.deploy('cf', { 'index.js': reader });
});
after(async () => {
  await h.close();
});

/** GET / of tenant `cf` over a connection from `localAddress` */
function ask(localAddress: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const url = new URL(h.url('/'));
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: '/',
        localAddress,
        headers: { host: 'cf.localhost', ...headers },
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode!, body: JSON.parse(text) });
          } catch {
            reject(new Error(`status ${res.statusCode}: ${text}`));
          }
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const proxyHeaders = {
  'x-geo-country': 'NZ',
  'x-geo-city': 'Wellington',
  'x-rtt': '23',
  'x-tls-version': 'TLSv1.3',
  'x-cf-blob': JSON.stringify({
    tlsCipher: 'AEAD-AES128-GCM-SHA256',
    httpProtocol: 'HTTP/2',
    botManagement: { score: 99 },
  }),
};

test('request.cf always exists: the HTTP version and the node colo, absent fields undefined', async () => {
  const r = await ask('127.0.0.2');
  assert.equal(r.status, 200);
  assert.equal(r.body.exists, true);
  assert.equal(r.body.cf.httpProtocol, 'HTTP/1.1');
  assert.equal(r.body.colo, 'TST');
  assert.equal(r.body.country, undefined);
  assert.equal(r.body.tlsVersion, undefined);
  assert.equal(r.body.copied, true, 'new Request(request) keeps the same cf');
});

test('a trusted proxy sets fields by header and the whole object by the blob header, which the function does not see', async () => {
  const r = await ask('127.0.0.1', proxyHeaders);
  assert.equal(r.status, 200);
  const cf = r.body.cf;
  assert.equal(cf.country, 'NZ');
  assert.equal(cf.city, 'Wellington');
  assert.equal(cf.clientTcpRtt, 23, 'numeric fields arrive as numbers');
  assert.equal(cf.tlsVersion, 'TLSv1.3');
  assert.equal(cf.tlsCipher, 'AEAD-AES128-GCM-SHA256');
  assert.equal(cf.httpProtocol, 'HTTP/2', "the blob is the front proxy's word and wins");
  assert.deepEqual(cf.botManagement, { score: 99 });
  assert.ok(!r.body.headers.includes('x-cf-blob'), 'the blob header is islet transport');
  assert.ok(r.body.headers.includes('x-geo-country'), "a trusted proxy's field headers stay");
});

test('the same headers from an untrusted peer are removed and set nothing', async () => {
  const r = await ask('127.0.0.2', proxyHeaders);
  assert.equal(r.status, 200);
  const cf = r.body.cf;
  for (const field of ['country', 'city', 'clientTcpRtt', 'tlsVersion', 'tlsCipher', 'botManagement']) {
    assert.equal(cf[field], undefined, field);
  }
  assert.equal(cf.httpProtocol, 'HTTP/1.1');
  for (const name of Object.keys(proxyHeaders))
    assert.ok(!r.body.headers.includes(name), `${name} reached the function`);
});

test('GeoIP databases fill geo fields from the address a trusted proxy reports (its rightmost untrusted hop)', async () => {
  // the client claims 1.2.3.4 in its own X-Forwarded-For; the trusted proxy appended the real address
  const city = await ask('127.0.0.1', { 'x-forwarded-for': '1.2.3.4, 216.160.83.56, 127.0.0.1' });
  const cf = city.body.cf;
  assert.equal(cf.country, 'US');
  assert.equal(cf.city, 'Milton');
  assert.equal(cf.region, 'Washington');
  assert.equal(cf.regionCode, 'WA');
  assert.equal(cf.continent, 'NA');
  assert.equal(cf.postalCode, '98354');
  assert.equal(cf.metroCode, '819');
  assert.equal(cf.timezone, 'America/Los_Angeles');
  assert.equal(cf.latitude, '47.2513');
  assert.equal(cf.longitude, '-122.3149');
  const asn = await ask('127.0.0.1', { 'x-forwarded-for': '1.128.0.1', 'x-geo-country': 'AU' });
  assert.equal(asn.body.cf.asn, 1221);
  assert.equal(asn.body.cf.asOrganization, 'Telstra Pty Ltd');
  assert.equal(asn.body.cf.country, 'AU', 'a header of the trusted proxy');
});

test('an untrusted peer cannot pick the address GeoIP looks up', async () => {
  const r = await ask('127.0.0.2', { 'x-forwarded-for': '216.160.83.56' });
  assert.equal(r.body.cf.city, undefined);
  assert.equal(r.body.cf.country, undefined);
});

test('a blob that is not a JSON object sets nothing; a __proto__ key stays a plain field', async () => {
  const bad = await ask('127.0.0.1', { 'x-cf-blob': 'not json' });
  assert.equal(bad.status, 200);
  assert.equal(bad.body.cf.httpProtocol, 'HTTP/1.1');
  const proto = await ask('127.0.0.1', { 'x-cf-blob': '{"__proto__":{"polluted":1},"country":"FR"}' });
  assert.equal(proto.body.cf.country, 'FR');
  assert.deepEqual(Object.getOwnPropertyDescriptor(proto.body.cf, '__proto__')?.value, { polluted: 1 });
});
