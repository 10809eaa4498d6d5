// Where errors nobody can catch go (a throwing event listener, an unhandled timer callback):
// to the tenant's log as an error record, like a browser console's "Uncaught".
import { host } from './bridge';

export function describeError(error: unknown): string {
  try {
    if (error && typeof error === 'object' && typeof (error as Error).stack === 'string') return (error as Error).stack!;
    return String(error);
  } catch {
    return '[unprintable error]';
  }
}

export function reportError(error: unknown): void {
  host('log', 'error', 'Uncaught ' + describeError(error));
}
