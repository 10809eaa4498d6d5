// The global reportError(error) (HTML standard): fires an ErrorEvent named 'error' at the global
// scope; unless a listener cancels it, the error goes to the tenant's log with its stack, as an
// uncaught exception does.
import { ErrorEvent } from '../events/message-events';
import type { EventTarget } from '../events/event-target';
import { logUncaught } from '../internal/report';
import { SafeTypeError } from '../internal/primordials';

/** fires the error at `globalTarget`; logs it unless a listener cancelled the event */
export function createGlobalReporter(globalTarget: EventTarget): (error: unknown) => void {
  let reporting = false;
  return (error) => {
    let message = '';
    try {
      message = error instanceof Error ? error.message : String(error);
    } catch {
      message = 'Uncaught exception';
    }
    let unhandled = true;
    // an error reported while an 'error' listener runs goes straight to the log (no recursion)
    if (!reporting) {
      reporting = true;
      try {
        unhandled = globalTarget.dispatchEvent(new ErrorEvent('error', { cancelable: true, error, message }));
      } finally {
        reporting = false;
      }
    }
    if (unhandled) logUncaught(error);
  };
}

export function createReportError(report: (error: unknown) => void): (error: unknown) => void {
  return function reportError(error: unknown): void {
    if (arguments.length === 0)
      throw new SafeTypeError("Failed to execute 'reportError': 1 argument required, but only 0 present.");
    report(error);
  };
}
