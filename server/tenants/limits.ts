// The one place that says what a failure means for the client: which limit cut the request and
// which status that gives (503 for CPU, memory, concurrency and other budgets; 504 for wall time;
// 413 for the request body), or that the function itself failed (500) or could not start.
import { ConcurrencyLimitError, DeploymentLoadError, LimitExceededError, type LimitName } from '../errors';
import { isolateFailure } from './isolate-api';
import type { Limits } from '../config';

export type Failure =
  | { kind: 'limit'; limit: LimitName; status: number; measured?: number; tenantStack?: string; /** body limit: the response's, not the request's */ response?: boolean }
  | { kind: 'startup'; status: number; code: string; message: string; tenantStack?: string }
  | { kind: 'tenant'; status: 500; message: string; tenantStack?: string }
  /** the isolate was stopped under the request (drain timeout, shutdown): not the function's fault */
  | { kind: 'unavailable'; status: 503; message: string };

export function limitStatus(limit: LimitName): number {
  if (limit === 'wall') return 504;
  if (limit === 'body') return 413;
  return 503;
}

const stackOf = (err: unknown): string | undefined => {
  const e = err as { isolateStack?: string; tenantStack?: string } | null;
  return e?.tenantStack ?? e?.isolateStack;
};

export function classifyFailure(err: unknown): Failure {
  if (err instanceof LimitExceededError || (err as { code?: string })?.code === 'ISLET_LIMIT_EXCEEDED') {
    const e = err as LimitExceededError;
    return { kind: 'limit', limit: e.limit, status: limitStatus(e.limit), measured: e.measured, tenantStack: e.tenantStack };
  }
  if (err instanceof ConcurrencyLimitError) return { kind: 'limit', limit: 'concurrency', status: 503, measured: err.limit };
  if (err instanceof DeploymentLoadError) {
    if (err.code === 'ISLET_STARTUP_MEMORY') return { kind: 'limit', limit: 'memory', status: 503, tenantStack: err.tenantStack };
    return { kind: 'startup', status: 500, code: err.code, message: err.message, tenantStack: err.tenantStack };
  }
  const isolate = isolateFailure(err);
  if (isolate === 'cpu' || isolate === 'wall' || isolate === 'memory') return { kind: 'limit', limit: isolate, status: limitStatus(isolate), tenantStack: stackOf(err) };
  if (isolate === 'disposed') return { kind: 'unavailable', status: 503, message: err instanceof Error ? err.message : String(err) };
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { kind: 'tenant', status: 500, message, tenantStack: stackOf(err) ?? (err instanceof Error ? err.stack : undefined) };
}

/** The configured value of a limit, for the log line of a cut. */
export function configuredLimit(limits: Limits, limit: LimitName): number | undefined {
  switch (limit) {
    case 'cpu':
      return limits.cpuMs;
    case 'wall':
      return limits.wallMs;
    case 'memory':
      return limits.memoryMb;
    case 'body':
      return limits.requestBodyBytes;
    case 'subrequests':
      return limits.subrequests;
    case 'logs':
      return limits.logBytes;
    case 'concurrency':
      return limits.concurrency;
  }
}

export const limitMessages: Record<LimitName, string> = {
  cpu: 'the function used more CPU time than its limit allows',
  wall: 'the function took longer than its time limit',
  memory: 'the function exceeded its memory limit',
  body: 'the request body is larger than this function accepts',
  subrequests: 'the function made more subrequests than its limit allows',
  logs: 'the function wrote more log output than its limit allows',
  concurrency: 'the function is handling as many requests as its concurrency limit allows; retry shortly',
};

/** shown instead of limitMessages.body when the body that went over its limit is the function's response */
export const responseBodyMessage = 'the function produced a response body larger than its limit allows';

/**
 * A `body` cut seen by the front when its own request-body guard did not trip is the function's
 * response going over responseBodyBytes: the function's doing, so 503 like other budgets, not the
 * client's 413.
 */
export function asResponseBodyCut(failure: Failure): Failure {
  if (failure.kind === 'limit' && failure.limit === 'body') return { ...failure, status: 503, response: true };
  return failure;
}
