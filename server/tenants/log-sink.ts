// Where the tenant layer writes what a tenant may read about its own requests: console output,
// the request line, limit cuts and exceptions. The observability room's LogHub (server/observe/tenant-logs/hub.ts)
// implements this (it keeps per-tenant rings and maps stacks through source maps); without it,
// loggerSink writes the same records, with the same `source` tags, straight to the Logger.
import type { Level, Logger, LogRecord } from '../observe/server-log';
import type { TenantLogRecord } from '../host/types';
import type { LimitLogEvent, RequestLogLine, TenantErrorEvent } from '../observe/tenant-logs/events';

export interface TenantLogSink {
  tenantLog(record: TenantLogRecord): void;
  request(line: RequestLogLine): void;
  limitExceeded(event: LimitLogEvent): unknown;
  tenantError(event: TenantErrorEvent): unknown;
}

const consoleLevels: Record<TenantLogRecord['level'], Level> = {
  debug: 'debug',
  info: 'info',
  log: 'info',
  warn: 'warn',
  error: 'error',
};

function clean(fields: LogRecord): LogRecord {
  for (const key of Object.keys(fields)) if (fields[key] === undefined) delete fields[key];
  return fields;
}

export function loggerSink(logger: Logger): TenantLogSink {
  return {
    tenantLog: (r) =>
      logger.log(
        consoleLevels[r.level] ?? 'info',
        r.message,
        clean({
          tenant: r.tenant,
          deployment: r.deployment,
          requestId: r.requestId,
          source: 'tenant',
          consoleLevel: r.level,
        }),
      ),
    request: (line) => logger.log(line.status >= 500 ? 'warn' : 'info', 'request', { ...line, source: 'request' }),
    limitExceeded: (e) =>
      logger.warn(
        `${e.limit} limit exceeded`,
        clean({
          tenant: e.tenant,
          deployment: e.deployment,
          requestId: e.requestId,
          source: 'limit',
          limit: e.limit,
          measured: e.measured,
          stack: e.stack,
        }),
      ),
    tenantError: (e) =>
      logger.error(
        e.message,
        clean({
          tenant: e.tenant,
          deployment: e.deployment,
          requestId: e.requestId,
          source: 'exception',
          stack: e.stack,
        }),
      ),
  };
}
