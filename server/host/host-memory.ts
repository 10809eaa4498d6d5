// Memory islet holds on the host for one isolate (its CryptoKeys, compression streams and their
// buffers, the bodies of its subrequests) is charged to that isolate: through the addon's
// Isolate#adjustExternalMemory, V8 counts it as the isolate's external memory (so it collects
// sooner when the host holds a lot) and the isolate's memory limit covers it together with the
// isolate's own ArrayBuffers. A charge that would pass the limit is refused with a
// HostMemoryError (QuotaExceededError in the isolate) that says what asked for it; a tenant
// whose buffers grow while the host holds much is disposed for memory like any other. The addon
// is told in steps of GRANULE bytes (a digest of a few bytes does not cross into V8 twice), so
// the isolate is charged at most 2 granules more than the host holds.
import { HostMemoryError } from '../errors';
import type { Isolate } from './isolate-api';

type Adjust = (bytes: number) => boolean;

const GRANULE = 64 * 1024;

export class HostMemory {
  readonly #isolate: Isolate;
  /** the addon's charge, or null under a library without one (the reference library): counted here only */
  readonly #adjust: Adjust | null;
  #held = 0;
  /** bytes the addon was told of (at least #held) */
  #told = 0;

  constructor(isolate: Isolate) {
    this.#isolate = isolate;
    const adjust = (isolate as Partial<Isolate>).adjustExternalMemory;
    this.#adjust = typeof adjust === 'function' ? (bytes) => adjust.call(isolate, bytes) : null;
  }

  /** bytes charged now */
  get held(): number {
    return this.#held;
  }

  /** charges `bytes`; false (nothing charged) when the isolate's limit would pass, or it is gone */
  tryCharge(bytes: number): boolean {
    if (bytes <= 0) return true;
    if (this.#isolate.isDisposed) return false;
    const amount = Math.ceil(bytes);
    if (this.#adjust && this.#held + amount > this.#told) {
      const step = this.#held + amount - this.#told + GRANULE;
      if (!this.#adjust(step)) {
        // refused with the slack: the bytes alone may still fit
        const exact = this.#held + amount - this.#told;
        if (!this.#adjust(exact)) return false;
        this.#told += exact;
      } else this.#told += step;
    }
    this.#held += amount;
    return true;
  }

  /** charges `bytes` held for `what` (a phrase such as "crypto.subtle: an HMAC key"), or throws HostMemoryError */
  charge(bytes: number, what: string): void {
    if (!this.tryCharge(bytes)) throw new HostMemoryError(refusal(bytes, what));
  }

  /** gives back `bytes` charged earlier */
  release(bytes: number): void {
    const amount = Math.min(Math.ceil(bytes), this.#held);
    if (amount <= 0) return;
    this.#held -= amount;
    // give back what is more than a granule over what is held
    const spare = this.#told - this.#held;
    if (this.#adjust && spare > 2 * GRANULE) {
      const back = spare - GRANULE;
      this.#told -= back;
      if (!this.#isolate.isDisposed) this.#adjust(-back);
    }
  }

  /** the sandbox is torn down: everything goes back */
  dispose(): void {
    this.#held = 0;
    if (this.#adjust && this.#told > 0 && !this.#isolate.isDisposed) this.#adjust(-this.#told);
    this.#told = 0;
  }
}

export function refusal(bytes: number, what: string): string {
  const size = bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${Math.ceil(bytes)} bytes`;
  return `${what}: holding ${size} more on the host would pass this isolate's memory limit`;
}
