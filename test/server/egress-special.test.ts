// The egress guard refuses every range of IANA's special-purpose registries (IPv6 and IPv4),
// not only loopback and private space: local-use NAT64, Teredo, the IETF protocol block
// (benchmarking, ORCHID, AMT, AS112...), documentation, SRv6, discard; public space still passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EgressGuard } from '../../server/host/egress';
import { EgressError } from '../../server/errors';

test('special-purpose IPv6 and IPv4 ranges are refused; the public addresses beside them pass', () => {
  const guard = new EgressGuard({ allow: [] });
  const refused = [
    '64:ff9b:1::a00:1', // local-use NAT64, RFC 8215
    '64:ff9b:1:ffff:ffff::1',
    '2001::1', // Teredo
    '2001:0:4136:e378:8000:63bf:3fff:fdd2',
    '2001:1::1', // PCP anycast
    '2001:2::1', // benchmarking
    '2001:3::1', // AMT
    '2001:4:112::1', // AS112-v6
    '2001:10::1', // ORCHID
    '2001:20::1', // ORCHIDv2
    '2001:30::1', // DRIP
    '2001:1ff:ffff::1', // the end of 2001::/23
    '2001:db8::1', // documentation
    '3fff::1', // documentation, RFC 9637
    '3fff:fff::1',
    '5f00::1', // SRv6 SIDs
    '2620:4f:8000::1', // direct delegation AS112
    '100::1', // discard-only
    '2002:a00:1::1', // 6to4 of 10.0.0.1
    '192.31.196.1', // AS112-v4
    '192.52.193.1', // AMT
    '192.175.48.1', // direct delegation AS112
  ];
  for (const address of refused) assert.throws(() => guard.check('h.test', address), EgressError, address);
  const passes = [
    '2001:200::1', // just past 2001::/23 (WIDE)
    '2001:4860:4860::8888',
    '2606:4700:4700::1111',
    '64:ff9b::808:808', // well-known NAT64 of 8.8.8.8
    '2002:808:808::1', // 6to4 of 8.8.8.8
    '4000::1',
    '2620:4f:8001::1',
    '192.31.197.1',
  ];
  for (const address of passes) assert.doesNotThrow(() => guard.check('h.test', address), address);
});
