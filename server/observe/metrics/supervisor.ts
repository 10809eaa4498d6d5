// The supervisor's own metrics (the cluster primary runs no tenant code, but it sees what no
// worker can: workers dying, quarantines, requests replayed on another worker, and the log lines
// it dropped itself). Its registry is summed with every worker's into the one scrape
// (cluster.ts).
import { Counter, Gauge, Registry } from 'prom-client';
import { OTHER_TENANTS } from './labels';
import { registerLogDrops } from './scrape-gauges';

/** tenants that keep their own label in islet_quarantines_total; past it, OTHER_TENANTS */
const MAX_TENANT_LABELS = 100;

export type ReplayKind = 'in_flight' | 'first_request';

export class SupervisorMetrics {
  readonly registry = new Registry();
  readonly #deaths: Counter<'cause'>;
  readonly #quarantines: Counter<'tenant'>;
  readonly #quarantined: Gauge;
  readonly #replays: Counter<'kind'>;
  readonly #failed: Counter;
  readonly #refused: Counter;
  readonly #labelled = new Set<string>();

  constructor() {
    const registers = [this.registry];
    registerLogDrops(this.registry);
    this.#deaths = new Counter({
      name: 'islet_worker_deaths_total',
      help: 'Worker processes that died unexpectedly, by what their death is blamed on (tenant code or unknown)',
      labelNames: ['cause'],
      registers,
    });
    for (const cause of ['tenant', 'unknown']) this.#deaths.inc({ cause }, 0);
    this.#quarantines = new Counter({
      name: 'islet_quarantines_total',
      help: 'Times a tenant was quarantined for causing worker deaths',
      labelNames: ['tenant'],
      registers,
    });
    this.#quarantined = new Gauge({
      name: 'islet_quarantined_tenants',
      help: 'Tenants refused now because their code made worker processes die',
      registers,
    });
    this.#replays = new Counter({
      name: 'islet_requests_replayed_total',
      help: 'Requests a dead worker held that were handed to another worker (in flight: retried; first_request: never read)',
      labelNames: ['kind'],
      registers,
    });
    for (const kind of ['in_flight', 'first_request']) this.#replays.inc({ kind }, 0);
    this.#failed = new Counter({
      name: 'islet_worker_death_failed_requests_total',
      help: 'Requests answered 502 (or cut) because the worker serving them died',
      registers,
    });
    // the same series each worker's front counts (protection-metrics.ts): the scrape sums them
    this.#refused = new Counter({
      name: 'islet_connections_refused_total',
      help: 'Tenant-port connections closed at once because their client held too many (server.maxConnectionsPerClient)',
      registers,
    });
  }

  /** the supervisor closed a connection over the per-client cap */
  connectionRefused(): void {
    this.#refused.inc();
  }

  workerDeath(blamed: boolean): void {
    this.#deaths.inc({ cause: blamed ? 'tenant' : 'unknown' });
  }

  quarantine(tenant: string): void {
    if (this.#labelled.size < MAX_TENANT_LABELS) this.#labelled.add(tenant);
    this.#quarantines.inc({ tenant: this.#labelled.has(tenant) ? tenant : OTHER_TENANTS });
  }

  quarantinedNow(count: number): void {
    this.#quarantined.set(count);
  }

  replayed(kind: ReplayKind): void {
    this.#replays.inc({ kind });
  }

  failedByDeath(): void {
    this.#failed.inc();
  }
}
