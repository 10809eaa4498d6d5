// What a failed request means, as the tenant layer sees it: which limit cut it (with the value
// measured and the tenant's stack when known), that the function failed to start or threw, or
// that its isolate was stopped under it. One classifier for every error that reaches the front;
// it reads stable error codes (islet's, and the addon's through host/isolate-api.ts), never
// message text. The HTTP status each outcome gets is the front's decision (front/status.ts).
import type { Limits } from '../config';
import {
  DeploymentLoadError,
  type ConcurrencyLimitError,
  type LimitExceededError,
  type LimitName,
  type TenantBackoffError,
} from '../errors';
import { isolateFailure } from '../host/isolate-api';
import { webSocketLimits } from '../host/websockets/limits';

export type Failure =
  | {
      kind: 'limit';
      limit: LimitName;
      measured?: number;
      tenantStack?: string;
      /** a `body` cut of the function's own response, not of the client's request */
      response?: boolean;
    }
  | { kind: 'startup'; code: string; message: string; tenantStack?: string }
  | { kind: 'tenant'; message: string; tenantStack?: string }
  /** the isolate was stopped under the request (drain timeout, shutdown): not the function's fault */
  | { kind: 'unavailable'; message: string }
  /** the tenant's isolates keep dying: no new one before `retryAfterS` (tenants/backoff.ts) */
  | { kind: 'backoff'; retryAfterS: number };

const stackOf = (err: unknown): string | undefined => {
  const e = err as { isolateStack?: string; tenantStack?: string } | null;
  return e?.tenantStack ?? e?.isolateStack;
};

export function classifyFailure(err: unknown): Failure {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ISLET_LIMIT_EXCEEDED') {
    const e = err as LimitExceededError;
    return { kind: 'limit', limit: e.limit, measured: e.measured, tenantStack: e.tenantStack };
  }
  if (code === 'ISLET_TENANT_BACKOFF') {
    return { kind: 'backoff', retryAfterS: Math.max(1, Math.ceil((err as TenantBackoffError).retryAfterMs / 1000)) };
  }
  if (code === 'ISLET_CONCURRENCY_LIMIT') {
    return { kind: 'limit', limit: 'concurrency', measured: (err as ConcurrencyLimitError).limit };
  }
  if (err instanceof DeploymentLoadError) {
    if (err.code === 'ISLET_STARTUP_MEMORY') return { kind: 'limit', limit: 'memory', tenantStack: err.tenantStack };
    return { kind: 'startup', code: err.code, message: err.message, tenantStack: err.tenantStack };
  }
  const isolate = isolateFailure(err);
  if (isolate === 'cpu' || isolate === 'wall' || isolate === 'memory') {
    return { kind: 'limit', limit: isolate, tenantStack: stackOf(err) };
  }
  if (isolate === 'disposed') return { kind: 'unavailable', message: err instanceof Error ? err.message : String(err) };
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { kind: 'tenant', message, tenantStack: stackOf(err) ?? (err instanceof Error ? err.stack : undefined) };
}

/** The setting behind each limit name (a `body` cut names the request body's limit). */
const limitSetting: Record<LimitName, keyof Limits> = {
  cpu: 'cpuMs',
  wall: 'wallMs',
  memory: 'memoryMb',
  body: 'requestBodyBytes',
  subrequests: 'subrequests',
  logs: 'logBytes',
  concurrency: 'concurrency',
  websockets: 'webSockets',
};

/** The configured value of a limit, for the log line of a cut. */
export function configuredLimit(limits: Limits, limit: LimitName): number {
  // the WebSocket limits are optional in the type (host/websockets/limits.ts has their defaults)
  if (limit === 'websockets') return webSocketLimits(limits).sockets;
  return limits[limitSetting[limit]] ?? 0;
}
