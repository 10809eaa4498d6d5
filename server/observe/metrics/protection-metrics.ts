// Counters of the platform's protections against hostile tenants (issue 16): the CPU cold starts
// used (charged to the tenant, failed starts included), the back-offs of tenants whose isolates
// keep dying, and the connections the front closed over the per-client cap.
import { Counter, type Registry } from 'prom-client';
import type { TenantSeries } from './labels';

export interface ProtectionMetrics {
  startupCpu: TenantSeries<Counter<'tenant'>>;
  backoffs: TenantSeries<Counter<'tenant'>>;
  connectionsRefused: Counter;
}

export function registerProtectionMetrics(
  registers: Registry[],
  tenantSeries: <M extends Counter<string>>(metric: M) => TenantSeries<M>,
): ProtectionMetrics {
  return {
    startupCpu: tenantSeries(
      new Counter({
        name: 'islet_startup_cpu_seconds_total',
        help: 'CPU time of cold starts (bootstrap, compiling, top-level code), failed ones included, by tenant',
        labelNames: ['tenant'],
        registers,
      }),
    ),
    backoffs: tenantSeries(
      new Counter({
        name: 'islet_isolate_backoffs_total',
        help: 'Back-offs of tenants whose isolates kept dying (failed starts, memory kills)',
        labelNames: ['tenant'],
        registers,
      }),
    ),
    connectionsRefused: new Counter({
      name: 'islet_connections_refused_total',
      help: 'Tenant-port connections closed at once because their client held too many (server.maxConnectionsPerClient)',
      registers,
    }),
  };
}
