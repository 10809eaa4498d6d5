// What the tenant layer reports to the tenant log hub besides console output and request lines
// (server/tenants/log-sink.ts is the interface it writes through), and which records of the
// server log a tenant may read.
import type { LimitName } from '../../host/types';

export type { RequestLogLine } from './request-line';

export interface LimitLogEvent {
  tenant: string;
  deployment: string;
  requestId: string;
  limit: LimitName;
  /** the measured value that crossed the limit: ms for cpu/wall, bytes or counts otherwise */
  measured: number;
  /** the tenant's JavaScript stack where it was cut (CPU and wall limits), as the addon reports it */
  stack?: string;
}

export interface TenantErrorEvent {
  tenant: string;
  deployment: string;
  requestId?: string;
  message: string;
  stack?: string;
}

/** `source` values of records a tenant may read (with a `tenant` field naming it). */
export const TENANT_SOURCES = new Set(['tenant', 'request', 'limit', 'exception']);

/** the unit of each limit's measured value, written beside it in a limit line */
export const LIMIT_UNITS: Record<LimitName, string> = {
  cpu: 'ms',
  wall: 'ms',
  memory: 'bytes',
  body: 'bytes',
  subrequests: 'requests',
  logs: 'bytes',
  concurrency: 'requests',
  websockets: 'sockets',
};
