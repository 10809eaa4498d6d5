// The module `islet:internal`: how islet's built-in modules reach the bootstrap (see
// runtime-shims/internal/builtin-internals.ts). The loader links it only into built-in modules;
// the bootstrap fills it through the connect export before any tenant code runs.
import type { BuiltinInternals } from '../internal/builtin-internals';

let value: BuiltinInternals | null = null;

export function __isletConnectInternals(internals: BuiltinInternals): void {
  if (value === null) value = internals;
}

export function internals(): BuiltinInternals {
  if (value === null) throw new Error('islet: the built-in modules were not connected to the runtime');
  return value;
}
