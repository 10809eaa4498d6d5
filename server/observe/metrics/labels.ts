// Label values of bounded cardinality. A tenant function chooses its own status codes and a
// platform may host thousands of tenants: keeping every status or every tenant as a label value
// would hand Prometheus an unbounded number of series. Common statuses stay exact and the rest
// collapse to their class; the busiest tenants keep their own `tenant` label and the others
// share OTHER_TENANTS, re-ranked now and then (TenantLabels), with the series of a tenant that
// loses its label dropped (TenantSeries).

/**
 * The label value shared by every tenant outside the top N. It starts with '_', which no tenant
 * name can (tenant names are DNS labels), so it never collides with a real tenant.
 */
export const OTHER_TENANTS = '_other';
export { NO_TENANT } from '../../tenants/observer';
import { NO_TENANT } from '../../tenants/observer';

/** Status codes common enough to keep exactly; any other code is reported by class ("4xx"). */
const EXACT_STATUSES = new Set([
  200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 405, 406, 408, 409, 410, 413, 415, 422,
  429, 500, 501, 502, 503, 504,
]);

/**
 * A tenant function chooses its own status codes; keeping every one as a label value would let
 * one tenant create hundreds of series. Common codes stay exact, the rest collapse to their
 * class, which still matches a `status=~"5.."` selector. 0 (a subrequest that never got a
 * response: refused by the egress guard, DNS or connection failure) becomes "error".
 */
export function statusLabel(status: number): string {
  return (Number.isInteger(status) && STATUS_LABELS[status]) || 'error';
}

function computeStatusLabel(status: number): string {
  if (EXACT_STATUSES.has(status)) return String(status);
  if (status >= 100 && status <= 599) return `${Math.floor(status / 100)}xx`;
  return 'error';
}

/** made once: the label of every possible status, so the request path does not build strings */
const STATUS_LABELS: string[] = Array.from({ length: 600 }, (_, status) => computeStatusLabel(status));

/**
 * A metric with a `tenant` label (and at most one other label) whose series are dropped when the
 * tenant loses its own label, so that at most `tenantLabels + 1` tenant values exist per metric
 * at any time. prom-client removes series only by their full label set, hence the bookkeeping of
 * each tenant's label sets; the label objects are made once and reused, which also keeps the
 * per-request path free of allocations.
 */
export class TenantSeries<M extends { remove(labels: Record<string, string>): void }> {
  #byTenant = new Map<string, Map<string, Record<string, string>>>();
  constructor(
    readonly metric: M,
    readonly extraLabel?: string,
  ) {}

  labels(tenant: string, extra = ''): Record<string, string> {
    let sets = this.#byTenant.get(tenant);
    if (!sets) this.#byTenant.set(tenant, (sets = new Map()));
    let labels = sets.get(extra);
    if (!labels) {
      labels = this.extraLabel ? { tenant, [this.extraLabel]: extra } : { tenant };
      sets.set(extra, labels);
    }
    return labels;
  }

  drop(tenant: string): void {
    const sets = this.#byTenant.get(tenant);
    if (!sets) return;
    for (const labels of sets.values()) this.metric.remove(labels);
    this.#byTenant.delete(tenant);
  }
}

/**
 * Which tenants keep their own label. Between rebalances the first tenants seen take the free
 * slots; each rebalance ranks tenants by a decaying request count (the requests since the last
 * rebalance plus half the previous score), so the slots follow the tenants that are busy now
 * while a burst from one tenant is not forgotten at once. Ties favour tenants already labelled,
 * so equal traffic does not make series flap.
 */
export class TenantLabels {
  #limit: number;
  #labelled = new Set<string>();
  #recent = new Map<string, number>();
  #score = new Map<string, number>();

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** the label of a tenant, giving it a free slot when one is left */
  label(tenant: string): string {
    // requests that reached no function keep their own series: never ranked, never folded into _other
    if (tenant === NO_TENANT || this.#labelled.has(tenant)) return tenant;
    if (this.#labelled.size < this.#limit) {
      this.#labelled.add(tenant);
      return tenant;
    }
    return OTHER_TENANTS;
  }

  /** the label of a tenant without taking a slot (scrape-time gauges must not change the ranking) */
  peek(tenant: string): string {
    return tenant === NO_TENANT || this.#labelled.has(tenant) ? tenant : OTHER_TENANTS;
  }

  count(tenant: string, requests = 1): void {
    if (tenant === NO_TENANT) return;
    this.#recent.set(tenant, (this.#recent.get(tenant) ?? 0) + requests);
  }

  /** re-ranks; returns the tenants that lost their label */
  rebalance(): string[] {
    const names = new Set([...this.#score.keys(), ...this.#recent.keys()]);
    for (const name of names) {
      const score = (this.#score.get(name) ?? 0) / 2 + (this.#recent.get(name) ?? 0);
      // forget idle tenants so the ranking's memory stays proportional to active tenants
      if (score < 0.01 && !this.#labelled.has(name)) this.#score.delete(name);
      else this.#score.set(name, score);
    }
    this.#recent.clear();
    const ranked = [...this.#score.entries()].sort(
      (a, b) => b[1] - a[1] || Number(this.#labelled.has(b[0])) - Number(this.#labelled.has(a[0])),
    );
    const top = new Set(ranked.slice(0, this.#limit).map(([name]) => name));
    // slots no ranked tenant claims stay with their current holders
    for (const name of this.#labelled) {
      if (top.size >= this.#limit) break;
      top.add(name);
    }
    const demoted = [...this.#labelled].filter((name) => !top.has(name));
    this.#labelled = top;
    return demoted;
  }
}
