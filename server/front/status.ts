// What the client is told when a request does not get the function's own answer: the HTTP status
// of each outcome (tenants/limits.ts classifies them) and islet's short message. A limit cut
// answers 503 for CPU, memory, concurrency and the other budgets, 504 for wall time and 413 for a
// request body too large; a function that failed to start or threw answers 500; an isolate
// stopped under the request answers 503, and so does a tenant backed off after its isolates kept
// dying (with Retry-After). A limit's name (or `backoff`) also goes out in `islet-error`.
import type { LimitName } from '../errors';
import type { Failure } from '../tenants/limits';

export const limitMessages: Record<LimitName, string> = {
  cpu: 'the function used more CPU time than its limit allows',
  wall: 'the function took longer than its time limit',
  memory: 'the function exceeded its memory limit',
  body: 'the request body is larger than this function accepts',
  subrequests: 'the function made more subrequests than its limit allows',
  logs: 'the function wrote more log output than its limit allows',
  concurrency: 'the function is handling as many requests as its concurrency limit allows; retry shortly',
  websockets: 'the function holds as many WebSockets as its limit allows; retry later',
};

/** shown instead of limitMessages.body when the body that went over its limit is the function's response */
export const responseBodyMessage = 'the function produced a response body larger than its limit allows';

/** the status of a limit cut; a response body over its limit is the function's doing: 503, not the client's 413 */
export function limitStatus(limit: LimitName, response = false): number {
  if (limit === 'wall') return 504;
  if (limit === 'body' && !response) return 413;
  return 503;
}

export function failureStatus(failure: Failure): number {
  switch (failure.kind) {
    case 'limit':
      return limitStatus(failure.limit, failure.response);
    case 'unavailable':
    case 'backoff':
      return 503;
    case 'startup':
    case 'tenant':
      return 500;
  }
}

/** islet's answer for a failure: status, message, what `islet-error` says, and Retry-After when due */
export function failureAnswer(failure: Failure): {
  status: number;
  message: string;
  limit?: LimitName | 'backoff';
  retryAfterS?: number;
} {
  const status = failureStatus(failure);
  switch (failure.kind) {
    case 'limit':
      return {
        status,
        message: failure.response ? responseBodyMessage : limitMessages[failure.limit],
        limit: failure.limit,
      };
    case 'unavailable':
      return { status, message: 'the function was stopped while handling this request; retry' };
    case 'backoff':
      return {
        status,
        message:
          "the function's isolates keep failing to start or being stopped over their limits: " +
          'it is not started again for a while (see Retry-After; the tenant log says why)',
        limit: 'backoff',
        retryAfterS: failure.retryAfterS,
      };
    case 'startup':
      return { status, message: 'the function failed to start (details are in the server log under this request id)' };
    case 'tenant':
      return {
        status,
        message: 'the function threw an exception (details are in the server log under this request id)',
      };
  }
}

/**
 * A `body` cut seen by the front when its own request-body guard did not trip is the function's
 * response going over responseBodyBytes: the function's doing, answered like other budgets.
 */
export function asResponseBodyCut(failure: Failure): Failure {
  if (failure.kind === 'limit' && failure.limit === 'body') return { ...failure, response: true };
  return failure;
}
