// The egress guard: which addresses a tenant's fetch() may connect to. Checked on the address a
// connection will actually use (after DNS resolution, on every connection, so every redirect
// hop too), never on the URL text alone, so neither DNS names pointing inward nor alternative
// spellings of an address (IPv4-mapped IPv6, NAT64...) get through.
import net from 'node:net';
import dns from 'node:dns';
import { EgressError } from '../errors';
import type { EgressPolicy } from './types';

/**
 * Ranges a tenant may never reach unless the policy allows them explicitly: every entry of IANA's
 * IPv4 and IPv6 special-purpose address registries (RFC 6890 and its updates), global or not: a
 * tenant's fetch() has no business with protocol anycasts, sinks or tunnels either.
 */
const blocked = new net.BlockList();
for (const [address, prefix] of [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // CGNAT shared address space
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.31.196.0', 24], // AS112-v4
  ['192.52.193.0', 24], // AMT
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['192.175.48.0', 24], // direct delegation AS112
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  blocked.addSubnet(address, prefix, 'ipv4');
}
for (const [address, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['fc00::', 7], // unique local (includes fd00:ec2::254, a metadata address)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // deprecated site-local
  ['ff00::', 8], // multicast
  ['100::', 64], // discard-only
  ['64:ff9b:1::', 48], // local-use IPv4/IPv6 translation (RFC 8215)
  // IETF protocol assignments, all of it: Teredo 2001::/32 (tunnels to any IPv4 address),
  // PCP/TURN/DNS-SD anycasts, benchmarking 2001:2::/48, AMT 2001:3::/32, AS112 2001:4:112::/48,
  // ORCHID 2001:10::/28 and ORCHIDv2 2001:20::/28, DRIP 2001:30::/28
  ['2001::', 23],
  ['2001:db8::', 32], // documentation
  ['2620:4f:8000::', 48], // direct delegation AS112
  ['3fff::', 20], // documentation (RFC 9637)
  ['5f00::', 16], // SRv6 SIDs (RFC 9602)
] as const) {
  blocked.addSubnet(address, prefix, 'ipv6');
}

/**
 * the IPv4 address embedded in an IPv6 one (mapped ::ffff:a.b.c.d, compatible ::a.b.c.d, NAT64
 * 64:ff9b::/96, 6to4 2002::/16)
 */
function embeddedIPv4(address: string): string | null {
  const words = expandIPv6(address);
  if (!words) return null;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  const zeros = (from: number, to: number) => words.slice(from, to).every((w) => w === 0);
  if (zeros(0, 5) && words[5] === 0xffff) return v4(words[6], words[7]); // ::ffff:0:0/96
  if (zeros(0, 6) && (words[6] !== 0 || words[7] > 1)) return v4(words[6], words[7]); // ::a.b.c.d (deprecated)
  if (zeros(0, 4) && words[4] === 0xffff && words[5] === 0) return v4(words[6], words[7]); // ::ffff:0:a.b.c.d
  if (words[0] === 0x64 && words[1] === 0xff9b && zeros(2, 6)) return v4(words[6], words[7]); // NAT64
  if (words[0] === 0x2002) return v4(words[1], words[2]); // 6to4
  return null;
}

function expandIPv6(address: string): number[] | null {
  let text = address;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  // a dotted IPv4 tail counts as two 16-bit words
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    const parts = tail[1].split('.').map(Number);
    text =
      text.slice(0, -tail[1].length) +
      ((parts[0] << 8) | parts[1]).toString(16) +
      ':' +
      ((parts[2] << 8) | parts[3]).toString(16);
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = halves.length === 2 ? 8 - head.length - rest.length : 0;
  const words = [...head, ...new Array(fill).fill('0'), ...rest].map((w) => parseInt(w, 16));
  return words.length === 8 && words.every((w) => w >= 0 && w <= 0xffff) ? words : null;
}

/**
 * Adds an IP address or CIDR (`10.0.0.0/8`, `[::1]`, `fd00::/8`) to `list`; false when `entry`
 * is not one (a host name). Throws, naming `what`, for a CIDR without an address or with a bad
 * prefix length. Shared with the front's trusted proxies (front/cf/trusted.ts).
 */
export function addAddressRule(list: net.BlockList, entry: string, what: string): boolean {
  const slash = entry.indexOf('/');
  const bare = (slash < 0 ? entry : entry.slice(0, slash)).replace(/^\[|\]$/g, '');
  const family = net.isIP(bare);
  if (family === 0) {
    if (slash >= 0) throw new Error(`${what} "${entry}": a CIDR needs an IP address before the '/'`);
    return false;
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (slash < 0) {
    list.addAddress(bare, type);
    return true;
  }
  const text = entry.slice(slash + 1);
  const prefix = Number(text);
  if (!/^\d+$/.test(text) || prefix > (family === 4 ? 32 : 128))
    throw new Error(`${what} "${entry}": bad prefix length`);
  list.addSubnet(bare, prefix, type);
  return true;
}

/** how a name is looked up: all its addresses, in the resolver's order */
export type Lookup = (hostname: string) => Promise<dns.LookupAddress[]>;

/** the system resolver (getaddrinfo, as node:net uses) */
export const systemLookup: Lookup = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

/** A compiled policy: the allow-list parsed once. */
export class EgressGuard {
  #hosts = new Set<string>();
  #allowed = new net.BlockList();
  readonly #lookup: Lookup;

  /** `lookup`: how names are resolved (the system resolver by default; the sandbox's goes through a fair pool) */
  constructor(policy: EgressPolicy, lookup: Lookup = systemLookup) {
    this.#lookup = lookup;
    for (const entry of policy.allow) {
      const text = entry.trim().toLowerCase();
      if (text && !addAddressRule(this.#allowed, text, 'egress allow entry')) this.#hosts.add(text);
    }
  }

  /** true when the host name itself is on the allow-list (then any address it resolves to is fine) */
  allowsHost(hostname: string): boolean {
    return this.#hosts.has(hostname.toLowerCase().replace(/^\[|\]$/g, ''));
  }

  /** throws EgressError when `address` may not be reached for `hostname` */
  check(hostname: string, address: string): void {
    if (this.allowsHost(hostname)) return;
    const family = net.isIP(address);
    if (family === 0) throw new EgressError(`fetch to ${hostname}: "${address}" is not an IP address`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (this.#allowed.check(address, type)) return;
    const inner = 'a loopback, private, link-local or reserved address';
    if (blocked.check(address, type)) throw new EgressError(`fetch to ${hostname} refused: ${address} is ${inner}`);
    if (family === 6) {
      const v4 = embeddedIPv4(address);
      if (v4 !== null) {
        if (this.#allowed.check(v4, 'ipv4')) return;
        if (blocked.check(v4, 'ipv4')) {
          throw new EgressError(`fetch to ${hostname} refused: ${address} embeds ${v4}, ${inner}`);
        }
      }
    }
  }

  /** resolves `hostname` and returns an address it may connect to, or throws EgressError */
  async resolve(hostname: string): Promise<{ address: string; family: number }> {
    const bare = hostname.replace(/^\[|\]$/g, '');
    const literal = net.isIP(bare);
    if (literal) {
      this.check(bare, bare);
      return { address: bare, family: literal };
    }
    let results: dns.LookupAddress[];
    try {
      results = await this.#lookup(bare);
    } catch (error) {
      throw new EgressError(
        `fetch to ${hostname}: DNS lookup failed (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    if (results.length === 0) throw new EgressError(`fetch to ${hostname}: DNS returned no address`);
    // every address must pass: a name that also resolves inward is refused as a whole, so a
    // retry on another address can never land inside
    for (const r of results) this.check(hostname, r.address);
    return results[0];
  }
}
