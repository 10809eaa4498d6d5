// Where errors nobody can catch go (a throwing event listener, an unhandled timer callback):
// to the tenant's log as an error record, like a browser console's "Uncaught".
import { host } from './bridge';

export function describeError(error: unknown): string {
  try {
    if (error && typeof error === 'object' && typeof (error as Error).stack === 'string')
      return (error as Error).stack!;
    return String(error);
  } catch {
    return '[unprintable error]';
  }
}

/** the error as an uncaught exception in the tenant's log */
export function logUncaught(error: unknown): void {
  host('log', 'error', 'Uncaught ' + describeError(error));
}

let reportToGlobal: ((error: unknown) => void) | null = null;

/** set once by the bootstrap: how an error reaches the global scope (HTML "report an exception") */
export function setGlobalReporter(reporter: (error: unknown) => void): void {
  reportToGlobal = reporter;
}

/** an error nobody can catch: fired at the global scope as an ErrorEvent, else logged */
export function reportError(error: unknown): void {
  if (reportToGlobal) reportToGlobal(error);
  else logUncaught(error);
}
