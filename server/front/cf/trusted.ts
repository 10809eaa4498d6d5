// Which peers islet believes about request.cf: the `trustedProxies` setting (addresses and
// CIDRs) compiled once into a BlockList, and each connection's answer remembered for the
// connection's life (a keep-alive connection asks once). IPv4 peers seen as IPv4-mapped IPv6
// (a server bound to ::) match IPv4 rules: BlockList checks the mapped address.
import net, { type Socket } from 'node:net';
import { addAddressRule } from '../../host/egress';

export class TrustedProxies {
  readonly #list = new net.BlockList();
  readonly #any: boolean;
  readonly #bySocket = new WeakMap<Socket, boolean>();

  constructor(entries: readonly string[]) {
    let any = false;
    for (const entry of entries) {
      const text = entry.trim().toLowerCase();
      // config validation refused anything else (front/cf/settings.ts)
      if (text && addAddressRule(this.#list, text, 'trusted proxy')) any = true;
    }
    this.#any = any;
  }

  /** some proxy is trusted at all */
  get any(): boolean {
    return this.#any;
  }

  /** the peer of `socket` is a trusted proxy */
  trusts(socket: Socket): boolean {
    if (!this.#any) return false;
    let trusted = this.#bySocket.get(socket);
    if (trusted === undefined) {
      trusted = this.address(socket.remoteAddress);
      this.#bySocket.set(socket, trusted);
    }
    return trusted;
  }

  /** `address` (an IP, or undefined for a socket already gone) is a trusted proxy */
  address(address: string | undefined): boolean {
    if (!address) return false;
    const family = net.isIP(address);
    return family !== 0 && this.#list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }

  /**
   * The client's address behind a trusted peer: from X-Forwarded-For (a list each proxy appends
   * to), its rightmost entry that is not itself a trusted proxy, since entries left of the first
   * trusted hop could have been written by the client; from any other header, its value. Null
   * when the header holds no IP address.
   */
  clientAddress(header: string, value: string): string | null {
    if (header !== 'x-forwarded-for') return bareAddress(value);
    const hops = value.split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = bareAddress(hops[i]!);
      if (hop === null) return null;
      if (!this.address(hop) || i === 0) return hop;
    }
    return null;
  }
}

/** an address as a header may carry it ("203.0.113.7", "[2001:db8::1]:443", "1.2.3.4:5678"), or null */
function bareAddress(text: string): string | null {
  let value = text.trim();
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    value = value.slice(1, end < 0 ? undefined : end);
  } else if (value.indexOf(':') === value.lastIndexOf(':') && value.includes('.')) value = value.split(':')[0]!;
  return net.isIP(value) ? value : null;
}
