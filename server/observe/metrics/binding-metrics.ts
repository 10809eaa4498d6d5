// The bindings' metrics (server/bindings/observer.ts), as series of the process's registry with
// the same bounded tenant label as every other tenant metric:
//   islet_kv_operations_total{tenant, op}          get, put, delete, list
//   islet_cache_requests_total{tenant, result}     Cache API lookups: hit, miss
//   islet_cron_runs_total{tenant, status}          ok, error, or the limit that cut the run
//   islet_service_calls_total{tenant, status}      service binding calls made by the tenant
import type { BindingObserver } from '../../bindings/observer';
import { statusLabel } from './labels';
import type { Metrics } from './metrics';

export function bindingMetrics(metrics: Metrics): BindingObserver {
  const kv = metrics.tenantCounter('islet_kv_operations_total', 'KV operations made by tenant functions', 'op');
  const cache = metrics.tenantCounter(
    'islet_cache_requests_total',
    'Cache API lookups (cache.match) by tenant functions, by result',
    'result',
  );
  const cron = metrics.tenantCounter('islet_cron_runs_total', 'Cron trigger runs, by how they ended', 'status');
  const services = metrics.tenantCounter(
    'islet_service_calls_total',
    'Service binding calls made by tenant functions, by the status answered ("error": none)',
    'status',
  );
  return {
    kvOperation: (tenant, op) => kv(tenant, op),
    cacheRequest: (tenant, result) => cache(tenant, result),
    cronRun: (tenant, status) => cron(tenant, status),
    serviceCall: (tenant, status) => services(tenant, statusLabel(status)),
  };
}
