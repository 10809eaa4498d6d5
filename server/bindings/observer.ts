// What the bindings report, per tenant: KV operations, Cache API lookups (hit or miss), cron
// runs and service binding calls. server/observe/metrics/binding-metrics.ts turns these into
// Prometheus series; tests implement it to watch. Calls are cheap and synchronous.

import type { LimitName } from '../errors';

export type KvOperation = 'get' | 'put' | 'delete' | 'list';
export type CacheResult = 'hit' | 'miss';
/** how a cron run ended: `ok`, `error` (the handler threw), or the limit that cut it */
export type CronStatus = 'ok' | 'error' | 'unavailable' | LimitName;

export interface BindingObserver {
  kvOperation(tenant: string, op: KvOperation): void;
  cacheRequest(tenant: string, result: CacheResult): void;
  cronRun(tenant: string, status: CronStatus): void;
  /** a service binding call from `caller`, answered with `status` (0: refused or failed) */
  serviceCall(caller: string, status: number): void;
}

export const nullBindingObserver: BindingObserver = {
  kvOperation() {},
  cacheRequest() {},
  cronRun() {},
  serviceCall() {},
};
