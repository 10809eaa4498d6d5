// Metrics read when Prometheus scrapes rather than pushed on every change: live isolate counts,
// heap and external bytes (read from the isolates), and the machine-stall totals (read from
// native/'s ledger). The values are current and cost nothing between scrapes.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { IsolateSample, IsolateState } from '../../tenants/observer';
import { droppedTotals } from '../log-drops';
import type { TenantLabels } from './labels';

/** native/'s machine-stall ledger, as metrics reads it */
export interface StallTotals {
  count: number;
  totalNs: number;
  creditedNs: number;
}

const ISOLATE_STATES: IsolateState[] = ['warm', 'starting', 'draining'];

export function nonNegative(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}

/**
 * `islet_isolates{state}` and the per-tenant heap and external bytes. One snapshot of the
 * isolates (`read`, which never throws) feeds the three gauges of a scrape so they agree.
 */
export function registerIsolateGauges(registry: Registry, labels: TenantLabels, read: () => IsolateSample[]): void {
  let snapshot: IsolateSample[] | null = null;
  const takeSnapshot = (): IsolateSample[] => {
    if (snapshot) return snapshot;
    snapshot = read();
    // the three gauges are collected in one synchronous pass of the registry; forget the
    // snapshot afterwards so the next scrape reads the isolates again
    queueMicrotask(() => (snapshot = null));
    return snapshot;
  };
  new Gauge({
    name: 'islet_isolates',
    help: 'Live isolates, by state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const counts = new Map<IsolateState, number>(ISOLATE_STATES.map((s) => [s, 0]));
      for (const sample of takeSnapshot()) counts.set(sample.state, (counts.get(sample.state) ?? 0) + 1);
      for (const [state, count] of counts) this.set({ state }, count);
    },
  });
  const perTenant = (name: string, help: string, pick: (s: IsolateSample) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['tenant'],
      registers: [registry],
      collect() {
        const sums = new Map<string, number>();
        for (const sample of takeSnapshot()) {
          const tenant = labels.peek(sample.tenant);
          sums.set(tenant, (sums.get(tenant) ?? 0) + nonNegative(pick(sample)));
        }
        // a tenant whose isolates are gone must vanish from the gauge, not keep its last value
        this.reset();
        for (const [tenant, bytes] of sums) this.set({ tenant }, bytes);
      },
    });
  };
  perTenant(
    'islet_isolate_heap_used_bytes',
    "V8 heap bytes in use by a tenant's live isolates",
    (s) => s.heapUsedBytes,
  );
  perTenant(
    'islet_isolate_external_bytes',
    "Bytes held outside the V8 heap (ArrayBuffers) by a tenant's live isolates",
    (s) => s.externalBytes,
  );
}

/**
 * Stops of the whole machine (a virtual machine paused by its host) and the CPU time given back
 * to tenants whose requests were running through one, which would otherwise be cut for CPU they
 * never used: totals kept by the addon, so each scrape sets the counter to the ledger's value.
 * `read` never throws; null means no ledger this time.
 */
export function registerStallCounters(registry: Registry, read: () => StallTotals | null): void {
  const fromLedger = (name: string, help: string, pick: (t: StallTotals) => number): void => {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const totals = read();
        if (!totals) return;
        this.reset();
        this.inc(nonNegative(pick(totals)));
      },
    });
  };
  fromLedger(
    'islet_machine_stalls_total',
    'Stops of the whole machine seen by the watchdog (the host did not run this virtual machine)',
    (t) => t.count,
  );
  fromLedger(
    'islet_machine_stall_seconds_total',
    'Time the machine was stopped, summed over stops',
    (t) => t.totalNs / 1e9,
  );
  fromLedger(
    'islet_cpu_stall_credit_seconds_total',
    'CPU time not charged to tenants because their requests were running through a machine stop',
    (t) => t.creditedNs / 1e9,
  );
}

/**
 * `islet_log_lines_dropped_total{reason}`: log lines this process's observers dropped rather
 * than make serving wait (observe/log-drops.ts), every reason present from the start so that a
 * dashboard sees the series move from 0.
 */
export function registerLogDrops(registry: Registry): void {
  new Counter({
    name: 'islet_log_lines_dropped_total',
    help: 'Log lines dropped because their reader (stdout, stderr, a follower, another process) did not keep up',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, lines] of droppedTotals()) this.inc({ reason }, lines);
    },
  });
}
