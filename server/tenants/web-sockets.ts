// The WebSocket budgets of every tenant in this process (host/websockets/budget.ts), one per
// tenant whatever the number of its isolates: a redeployed tenant's old isolate keeps its open
// sockets while they drain, and they count against the same limit as the new isolate's. The
// metrics read the counts from here when Prometheus scrapes (observe/metrics/websocket-metrics.ts).
import type { Limits } from '../config';
import { WebSocketBudget } from '../host/websockets/budget';

/** what the metrics read of one tenant: sockets open now, messages passed since start */
export interface TenantSocketTotals {
  open: number;
  inbound: number;
  outbound: number;
}

export class TenantWebSockets {
  readonly #budgets = new Map<string, WebSocketBudget>();

  /** the tenant's budget, under the limits of its newest isolate */
  budgetFor(tenant: string, limits: Partial<Limits>): WebSocketBudget {
    let budget = this.#budgets.get(tenant);
    if (!budget) {
      budget = new WebSocketBudget(tenant, limits);
      this.#budgets.set(tenant, budget);
    } else budget.configure(limits);
    return budget;
  }

  /** the tenant may not open another socket now */
  full(tenant: string): boolean {
    return this.#budgets.get(tenant)?.full ?? false;
  }

  /** every tenant that ever had a socket in this process, with its counts */
  totals(): Map<string, TenantSocketTotals> {
    const totals = new Map<string, TenantSocketTotals>();
    for (const [tenant, budget] of this.#budgets) {
      totals.set(tenant, { open: budget.open, inbound: budget.messages.inbound, outbound: budget.messages.outbound });
    }
    return totals;
  }
}
