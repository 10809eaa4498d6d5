// Where errors nobody can catch go (a throwing event listener, an unhandled timer callback):
// to the tenant's log as an error record, like a browser console's "Uncaught".
import { host } from './bridge';
import { StringPrototypeSlice } from './primordials';

/**
 * Characters of an error's text that cross to the host at most. The host cuts it further to the
 * configured bounds (server/tenants/tenant-text.ts); this cap only spares it copying megabytes a
 * tenant put in a `stack` or a message (a slice of a string costs V8 no copy).
 */
export const errorTextMax = 64 * 1024;

export function boundErrorText(text: string): string {
  return text.length > errorTextMax ? StringPrototypeSlice(text, 0, errorTextMax) : text;
}

export function describeError(error: unknown): string {
  try {
    if (error && typeof error === 'object' && typeof (error as Error).stack === 'string') {
      return boundErrorText((error as Error).stack!);
    }
    return boundErrorText(String(error));
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
