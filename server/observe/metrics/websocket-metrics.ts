// The WebSocket metrics, read from the tenants' budgets (tenants/web-sockets.ts) when Prometheus
// scrapes, with the same bounded tenant label as every other tenant metric:
//   islet_websockets_open{tenant}                         WebSockets open now (accepted and outbound)
//   islet_websocket_messages_total{tenant,direction}      messages passed, inbound or outbound
// Nothing is recorded per message beyond a sum in the budget. A tenant that loses its own label
// (the busiest tenants keep theirs) is counted under the shared one from then on.
import { Counter, Gauge } from 'prom-client';
import type { TenantSocketTotals } from '../../tenants/web-sockets';
import type { Metrics } from './metrics';

export function registerWebSocketMetrics(metrics: Metrics, read: () => Map<string, TenantSocketTotals>): void {
  const registers = [metrics.registry];
  const byLabel = (pick: (t: TenantSocketTotals) => number): Map<string, number> => {
    const sums = new Map<string, number>();
    for (const [tenant, totals] of read()) {
      const label = metrics.tenantLabel(tenant);
      sums.set(label, (sums.get(label) ?? 0) + pick(totals));
    }
    return sums;
  };
  new Gauge({
    name: 'islet_websockets_open',
    help: 'WebSockets open now (accepted by tenant functions, and opened by them)',
    labelNames: ['tenant'],
    registers,
    collect() {
      this.reset();
      for (const [tenant, open] of byLabel((t) => t.open)) this.set({ tenant }, open);
    },
  });
  new Counter({
    name: 'islet_websocket_messages_total',
    help: 'WebSocket messages of tenant functions, inbound (to the function) and outbound (sent by it)',
    labelNames: ['tenant', 'direction'],
    registers,
    collect() {
      this.reset();
      for (const direction of ['inbound', 'outbound'] as const) {
        for (const [tenant, count] of byLabel((t) => t[direction])) this.inc({ tenant, direction }, count);
      }
    },
  });
}
