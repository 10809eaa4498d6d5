// The supervisor's book of worker deaths per tenant, and the quarantine it decides from them. A
// tenant that is the cause of `deaths` worker deaths within `windowMs` is quarantined for
// `cooldownMs`: every worker refuses its requests (503, `islet-error: quarantined`,
// Retry-After; tenants/quarantined.ts) so that its neighbours stop sharing its fate. Only a
// death with a known cause counts against a tenant (cluster/worker-death.ts decides the cause):
// a neighbour that merely had requests in flight when a worker died is never charged.
import type { QuarantineEntry } from '../tenants/quarantined';

export interface QuarantinePolicy {
  /** deaths within the window that quarantine a tenant */
  deaths: number;
  windowMs: number;
  cooldownMs: number;
}

/** tenants whose deaths are remembered at most (the oldest are forgotten first) */
const MAX_TENANTS = 10_000;

export class QuarantineBook {
  readonly #policy: QuarantinePolicy;
  /** per tenant: its recent deaths (ms, cause) */
  readonly #deaths = new Map<string, { at: number; cause: string }[]>();
  readonly #quarantined = new Map<string, QuarantineEntry>();
  #total = 0;

  constructor(policy: QuarantinePolicy) {
    if (!(Number.isInteger(policy.deaths) && policy.deaths >= 1))
      throw new RangeError(`quarantine: deaths must be a positive integer, got ${policy.deaths}`);
    this.#policy = policy;
  }

  /**
   * A worker died and `tenant`'s code was the cause. Returns the tenant's quarantine entry when
   * this death put it in quarantine (null otherwise: below the threshold, or already in).
   */
  death(tenant: string, cause: string, now = Date.now()): QuarantineEntry | null {
    const recent = (this.#deaths.get(tenant) ?? []).filter((d) => now - d.at < this.#policy.windowMs);
    recent.push({ at: now, cause });
    this.#deaths.delete(tenant);
    this.#deaths.set(tenant, recent);
    if (this.#deaths.size > MAX_TENANTS) this.#deaths.delete(this.#deaths.keys().next().value!);
    if (this.isQuarantined(tenant, now) || recent.length < this.#policy.deaths) return null;
    const entry: QuarantineEntry = {
      tenant,
      until: now + this.#policy.cooldownMs,
      since: new Date(now).toISOString(),
      deaths: recent.map((d) => ({ at: new Date(d.at).toISOString(), cause: d.cause })),
    };
    this.#quarantined.set(tenant, entry);
    this.#total++;
    return entry;
  }

  isQuarantined(tenant: string, now = Date.now()): boolean {
    const entry = this.#quarantined.get(tenant);
    if (!entry) return false;
    if (entry.until > now) return true;
    // the cool-down is over: its deaths start from zero
    this.#quarantined.delete(tenant);
    this.#deaths.delete(tenant);
    return false;
  }

  /** every tenant quarantined now */
  list(now = Date.now()): QuarantineEntry[] {
    for (const tenant of [...this.#quarantined.keys()]) this.isQuarantined(tenant, now);
    return [...this.#quarantined.values()];
  }

  /** ends a tenant's quarantine now (an operator lifted it); true when it was quarantined */
  lift(tenant: string): boolean {
    this.#deaths.delete(tenant);
    return this.#quarantined.delete(tenant);
  }

  /** quarantines decided since the supervisor started */
  get total(): number {
    return this.#total;
  }
}
