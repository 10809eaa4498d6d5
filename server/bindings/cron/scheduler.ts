// Cron triggers on a node: every active tenant's cron expressions (its bindings' `crons`, from its
// configuration or its deployment's wrangler `triggers`), evaluated in UTC by croner, each slot
// (a trigger's scheduled minute) claimed before it runs (./claims.ts) so it runs once even when
// two schedulers overlap, and run by ./runner.ts. A run that fails (the handler threw, a limit
// cut it) runs once more after cron.retryDelayMs unless the handler called noRetry(). Slots
// that passed while no scheduler ran are not made up for.
//
// One process per node schedules: the only process of `islet serve --workers 0`, or the worker
// in slot 0 under the supervisor (its replacement takes over after a crash or a reload; the
// claims keep the two from both running a slot while they overlap).
import { Cron } from 'croner';
import type { Logger } from '../../observe/server-log';
import type { DeploymentStore } from '../../store/types';
import { resolveBindings } from '../resolve';
import type { SlotClaims } from './claims';
import type { CronRunner, CronRunResult } from './runner';

/** the scheduler looks again at least this often (a clock that jumped, a far-away next slot) */
const MAX_SLEEP_MS = 60_000;

interface Trigger {
  tenant: string;
  cron: string;
  pattern: Cron;
  /** ms of its next slot */
  next: number;
}

export interface CronSchedulerDeps {
  store: DeploymentStore;
  runner: CronRunner;
  claims: SlotClaims;
  logger: Logger;
  retryDelayMs: number;
  /** the clock (tests move it) */
  now?: () => number;
}

export class CronScheduler {
  readonly #deps: CronSchedulerDeps;
  readonly #now: () => number;
  /** key `${tenant}\0${cron}` */
  readonly #triggers = new Map<string, Trigger>();
  #timer: NodeJS.Timeout | null = null;
  #unwatch: (() => void) | null = null;
  #stopped = false;
  readonly #running = new Set<Promise<unknown>>();

  constructor(deps: CronSchedulerDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
  }

  /** reads every active tenant's triggers and follows the store's changes */
  async start(): Promise<void> {
    this.#unwatch = this.#deps.store.watch((change) => void this.update(change.tenant));
    const tenants = await this.#deps.store.listTenants();
    await Promise.all(tenants.filter((t) => t.active).map((t) => this.update(t.name)));
    this.#arm();
  }

  /** the triggers the scheduler holds now, for the admin API and tests */
  triggers(tenant?: string): { tenant: string; cron: string; next: number }[] {
    return [...this.#triggers.values()]
      .filter((t) => tenant === undefined || t.tenant === tenant)
      .map(({ tenant: name, cron, next }) => ({ tenant: name, cron, next }));
  }

  /** re-reads one tenant's crons (its deployment, bindings or existence changed) */
  async update(tenant: string): Promise<void> {
    if (this.#stopped) return;
    let crons: string[] = [];
    try {
      // read from the store, not through the tenant directory: asking it would make it remember
      // the tenant as it is now, before the activation that is about to follow a new tenant
      const { store } = this.#deps;
      const record = await store.getTenant(tenant);
      const manifest = record?.active ? await store.getDeployment(tenant, record.active) : null;
      if (record && manifest) crons = resolveBindings(record.bindings, manifest.bindings).crons;
    } catch (error) {
      this.#deps.logger.warn('cron: reading the tenant failed, its triggers are kept', {
        tenant,
        error: (error as Error).message,
      });
      return;
    }
    const wanted = new Set(crons);
    for (const [key, trigger] of this.#triggers) {
      if (trigger.tenant === tenant && !wanted.has(trigger.cron)) this.#triggers.delete(key);
    }
    for (const cron of wanted) {
      const key = `${tenant}\u0000${cron}`;
      if (this.#triggers.has(key)) continue;
      let pattern: Cron;
      try {
        pattern = new Cron(cron, { timezone: 'UTC', paused: true });
      } catch (error) {
        this.#deps.logger.warn('cron: an expression does not parse, skipped', {
          tenant,
          cron,
          error: (error as Error).message,
        });
        continue;
      }
      const next = pattern.nextRun(new Date(this.#now()))?.getTime();
      if (next !== undefined) this.#triggers.set(key, { tenant, cron, pattern, next });
    }
    this.#arm();
  }

  #arm(): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    let earliest = Infinity;
    for (const t of this.#triggers.values()) earliest = Math.min(earliest, t.next);
    const delay = Math.max(0, Math.min(MAX_SLEEP_MS, earliest - this.#now()));
    this.#timer = setTimeout(() => this.#tick(), delay);
    this.#timer.unref();
  }

  #tick(): void {
    const now = this.#now();
    for (const trigger of this.#triggers.values()) {
      if (trigger.next > now) continue;
      const slot = trigger.next;
      const following = trigger.pattern.nextRun(new Date(Math.max(now, slot)))?.getTime();
      if (following === undefined) this.#triggers.delete(`${trigger.tenant}\u0000${trigger.cron}`);
      else trigger.next = following;
      this.#track(this.#fire(trigger.tenant, trigger.cron, slot));
    }
    this.#arm();
  }

  async #fire(tenant: string, cron: string, slot: number): Promise<void> {
    let won: boolean;
    try {
      won = await this.#deps.claims.claim(`${tenant}\u0000${cron}`, slot);
    } catch (error) {
      this.#deps.logger.error('cron: claiming a slot failed, it is skipped', {
        tenant,
        cron,
        slot,
        error: String(error),
      });
      return;
    }
    if (!won || this.#stopped) return;
    const first = await this.#run(tenant, cron, slot);
    if (!first || first.outcome === 'ok' || first.noRetry || this.#stopped) return;
    await new Promise<void>((resolve) => setTimeout(resolve, this.#deps.retryDelayMs).unref());
    if (!this.#stopped) await this.#run(tenant, cron, slot);
  }

  async #run(tenant: string, cron: string, slot: number): Promise<CronRunResult | null> {
    try {
      return await this.#deps.runner.run(tenant, cron, slot);
    } catch (error) {
      this.#deps.logger.warn('cron: the run could not start', { tenant, cron, error: (error as Error).message });
      return null;
    }
  }

  #track(run: Promise<unknown>): void {
    this.#running.add(run);
    void run.finally(() => this.#running.delete(run));
  }

  /** stops scheduling; runs in progress go on (the pool cuts them at shutdown) */
  stop(): void {
    this.#stopped = true;
    this.#unwatch?.();
    if (this.#timer) clearTimeout(this.#timer);
    this.#triggers.clear();
  }
}
