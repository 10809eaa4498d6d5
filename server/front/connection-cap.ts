// Connections one client may hold open on the tenant port (nginx's limit_conn, keyed by client
// address): past `max`, a new connection is closed at once, before a byte of it is read, and
// counted. One client holding thousands of idle connections would otherwise hold thousands of
// sockets, parsers and timers of the server. IPv6 clients are keyed by their /64 (a client gets a
// whole /64 and could rotate addresses in it); an IPv4-mapped address counts as its IPv4 address.
import net from 'node:net';

export class ConnectionCap {
  readonly #max: number;
  readonly #onRefused: () => void;
  readonly #open = new Map<string, number>();
  /** the key each admitted socket is counted under, until it closes or is released */
  readonly #counted = new WeakMap<net.Socket, string>();

  /** `max` 0: no cap */
  constructor(max: number, onRefused: () => void = () => {}) {
    this.#max = max;
    this.#onRefused = onRefused;
  }

  /** true when `socket` may stay; false when it was closed (its client holds `max` already) */
  admit(socket: net.Socket): boolean {
    if (this.#max === 0) return true;
    const key = clientKey(socket.remoteAddress);
    const open = this.#open.get(key) ?? 0;
    if (open >= this.#max) {
      socket.destroy();
      this.#onRefused();
      return false;
    }
    this.#open.set(key, open + 1);
    this.#counted.set(socket, key);
    socket.once('close', () => this.release(socket));
    return true;
  }

  /**
   * `socket` no longer counts here (it closed, or it was handed to a process that counts it
   * itself: the supervisor counts the connections it holds, each worker those it was given)
   */
  release(socket: net.Socket): void {
    const key = this.#counted.get(socket);
    if (key === undefined) return;
    this.#counted.delete(socket);
    const left = (this.#open.get(key) ?? 1) - 1;
    if (left > 0) this.#open.set(key, left);
    else this.#open.delete(key);
  }

  /** connections open now from the client of `address` */
  openFrom(address: string): number {
    return this.#open.get(clientKey(address)) ?? 0;
  }
}

/** the address a client is counted under */
export function clientKey(address: string | undefined): string {
  if (!address) return '';
  if (address.startsWith('::ffff:') && net.isIPv4(address.slice(7))) return address.slice(7);
  if (!net.isIPv6(address)) return address;
  // the first four 16-bit groups: the /64
  const [head = '', tail = ''] = address.split('::');
  const groups = head ? head.split(':') : [];
  if (groups.length < 4) {
    const rest = tail ? tail.split(':') : [];
    const fill = 8 - groups.length - rest.length;
    groups.push(...new Array(Math.max(0, fill)).fill('0'), ...rest);
  }
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g || '0', 16).toString(16))
    .join(':')}::/64`;
}
