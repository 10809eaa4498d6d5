// Failed admin authentications per client address, so a token cannot be guessed at network
// speed. An address that presented `max` invalid tokens within `windowMs` is refused (429 with
// Retry-After) until the oldest of those failures leaves the window; the refusal is decided
// before any token is looked at, so a guess made while refused teaches nothing. Requests with a
// valid token never count, and other addresses are never affected.
// Memory is bounded whatever the traffic: at most `max` timestamps per address and at most
// `maxAddresses` addresses (the least recently failing address is forgotten first).
export interface AuthFailureOptions {
  /** invalid tokens an address may present per window (default 20) */
  max?: number;
  /** the window, in ms (default 60 s) */
  windowMs?: number;
  /** addresses remembered at once (default 10,000) */
  maxAddresses?: number;
}

export class AuthFailureLimiter {
  readonly max: number;
  readonly windowMs: number;
  readonly maxAddresses: number;
  /** address -> times of its recent failures, oldest first; Map order = least recently failing first */
  #failures = new Map<string, number[]>();

  constructor(options: AuthFailureOptions = {}) {
    this.max = options.max ?? 20;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxAddresses = options.maxAddresses ?? 10_000;
    if (!(this.max >= 1) || !(this.windowMs >= 1) || !(this.maxAddresses >= 1)) {
      throw new RangeError('AuthFailureLimiter: max, windowMs and maxAddresses must be positive');
    }
  }

  /** ms until `address` may try again; 0 when it is not refused */
  retryAfterMs(address: string, now = Date.now()): number {
    const times = this.#recent(address, now);
    if (!times || times.length < this.max) return 0;
    return Math.max(1, times[times.length - this.max]! + this.windowMs - now);
  }

  recordFailure(address: string, now = Date.now()): void {
    const times = this.#recent(address, now) ?? [];
    times.push(now);
    if (times.length > this.max) times.splice(0, times.length - this.max);
    // re-insert: the Map's first key is then always the least recently failing address
    this.#failures.delete(address);
    this.#failures.set(address, times);
    while (this.#failures.size > this.maxAddresses) this.#failures.delete(this.#failures.keys().next().value!);
  }

  /** addresses currently remembered (tests, metrics) */
  get size(): number {
    return this.#failures.size;
  }

  #recent(address: string, now: number): number[] | undefined {
    const times = this.#failures.get(address);
    if (!times) return undefined;
    let drop = 0;
    while (drop < times.length && times[drop]! <= now - this.windowMs) drop++;
    if (drop === times.length) {
      this.#failures.delete(address);
      return undefined;
    }
    if (drop) times.splice(0, drop);
    return times;
  }
}
