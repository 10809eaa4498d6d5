// How the tenant layer finds the sandbox implementation (server/host/sandbox.ts): on first use,
// so a process that only routes or deploys never loads it, nor the isolate addon behind it. The
// Sandbox contract itself is declared once, in server/host/types.ts.
import type { CreateSandbox } from '../host/types';

export type { CreateSandbox, Sandbox } from '../host/types';

let found: CreateSandbox | undefined;

/** host/sandbox.ts's createSandbox, loaded on first use. */
export function defaultCreateSandbox(): CreateSandbox {
  if (!found) {
    const mod = require('../host/sandbox') as { createSandbox?: CreateSandbox };
    if (typeof mod.createSandbox !== 'function') throw new Error('server/host/sandbox does not export createSandbox');
    found = mod.createSandbox;
  }
  return found;
}
