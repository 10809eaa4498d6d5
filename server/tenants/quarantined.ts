// The tenants a serving process refuses for a while because worker processes died running their
// code (the supervisor decides, cluster/quarantine.ts, and sends every worker the whole list
// after each change). A request for a quarantined tenant gets 503 with `islet-error:
// quarantined` and a Retry-After, without any of its code running, so its neighbours stop
// sharing its fate; the admin API shows the entry under GET /v1/tenants/{t}. The check on the
// request path is one size test while nobody is quarantined.

/** A tenant refused for a while because worker processes died running its code. */
export interface QuarantineEntry {
  tenant: string;
  /** ms since the epoch: refused until then */
  until: number;
  /** ISO-8601 */
  since: string;
  /** the deaths that put it there: when, and what the worker died of */
  deaths: { at: string; cause: string }[];
}

export class QuarantinedTenants {
  #entries = new Map<string, QuarantineEntry>();

  /** replaces the list (the supervisor sends all of it) */
  set(entries: readonly QuarantineEntry[]): void {
    this.#entries = new Map(entries.map((entry) => [entry.tenant, entry]));
  }

  /** Seconds until `tenant` may be served again; 0 when it is not quarantined. */
  retryAfterS(tenant: string): number {
    if (this.#entries.size === 0) return 0;
    const entry = this.#entries.get(tenant);
    if (!entry) return 0;
    const left = entry.until - Date.now();
    if (left <= 0) {
      this.#entries.delete(tenant);
      return 0;
    }
    return Math.ceil(left / 1000);
  }

  /** The entry of a tenant quarantined now, or null. */
  get(tenant: string): QuarantineEntry | null {
    return this.retryAfterS(tenant) > 0 ? (this.#entries.get(tenant) ?? null) : null;
  }

  /** every tenant quarantined now */
  list(): QuarantineEntry[] {
    return [...this.#entries.values()].filter((entry) => entry.until > Date.now());
  }
}
