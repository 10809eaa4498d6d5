// What the tenant layer reports. metrics.ts implements it with prom-client; tests can implement
// it to watch the pool. Calls are cheap and synchronous: implementations must not block.
import type { LimitName } from '../host/types';

export type EvictionReason = 'idle' | 'memory_pressure' | 'count' | 'redeploy' | 'killed';
export type IsolateState = 'warm' | 'starting' | 'draining';

export interface RequestReport {
  tenant: string;
  deployment: string;
  status: number;
  /** request start to response end (seconds) */
  durationS: number;
  /** CPU time spent in the isolate for this request (seconds) */
  cpuS: number;
  cold: boolean;
}

export interface IsolateSample {
  tenant: string;
  state: IsolateState;
  heapUsedBytes: number;
  externalBytes: number;
}

/**
 * The tenant name requests that reached no function (a bad Host, no route, no deployment) are
 * reported under. Tenant names are DNS labels, so no tenant can be called this.
 */
export const NO_TENANT = '_none';

export interface TenantObserver {
  requestFinished(report: RequestReport): void;
  /** CPU and wall time consumed by a tenant's isolates since the last report (exact deltas from the addon) */
  isolateTime(tenant: string, cpuS: number, wallS: number): void;
  coldStart(tenant: string, seconds: number): void;
  /** CPU time a cold start's top-level code and compiling used, failed starts included (seconds) */
  startupCpu?(tenant: string, cpuS: number): void;
  /** the tenant's isolates kept dying: a back-off started (tenants/backoff.ts) */
  backoff?(tenant: string): void;
  /** the front closed a connection over the per-client connection cap */
  connectionRefused?(): void;
  eviction(reason: EvictionReason): void;
  limitExceeded(tenant: string, limit: LimitName): void;
  codeCache(result: 'hit' | 'miss' | 'rejected'): void;
  subrequest(tenant: string, status: number): void;
  deployment(tenant: string, result: 'success' | 'failure'): void;
  /** metrics pulls a snapshot of live isolates at scrape time */
  setIsolateSource(source: () => IsolateSample[]): void;
  /** metrics asks for the isolates' CPU and wall time up to now at scrape time (reported through isolateTime) */
  setTimeReporter(report: () => void): void;
}

/** An observer that records nothing (CLI tools, tests that do not watch). */
export const nullObserver: TenantObserver = {
  requestFinished() {},
  isolateTime() {},
  coldStart() {},
  eviction() {},
  limitExceeded() {},
  codeCache() {},
  subrequest() {},
  deployment() {},
  setIsolateSource() {},
  setTimeReporter() {},
};
