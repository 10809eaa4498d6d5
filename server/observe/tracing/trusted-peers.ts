// Which peers' W3C `traceparent` islet continues (config tracing.trustedPeers): addresses and
// CIDR ranges, IPv4 or IPv6. A traceparent from anyone else is ignored: an untrusted client must
// not choose the trace id, nor force sampling on by sending the sampled flag.
import net from 'node:net';
import { ConfigError } from '../../errors';

export function trustedPeers(entries: readonly string[]): (address: string | undefined) => boolean {
  if (entries.length === 0) return () => false;
  const list = new net.BlockList();
  for (const entry of entries) {
    const [address, bits] = entry.split('/');
    const family = net.isIP(address ?? '');
    if (!family || (bits !== undefined && !/^\d{1,3}$/.test(bits)))
      throw new ConfigError([`tracing.trustedPeers: '${entry}' is not an IP address or CIDR range`]);
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address!, type);
    else list.addSubnet(address!, Number(bits), type);
  }
  return (address) => {
    if (!address) return false;
    // IPv4 clients of a dual-stack socket arrive as ::ffff:a.b.c.d
    const plain = address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
    return list.check(plain, net.isIPv6(plain) ? 'ipv6' : 'ipv4');
  };
}
