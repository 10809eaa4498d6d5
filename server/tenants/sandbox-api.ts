// The sandbox the tenant layer drives (server/host/sandbox.ts, from the shims room): one per
// isolate, it owns the context, the shim bootstrap and the bridge, and runs requests under their
// per-request limits. This file states the shape tenants/ relies on and finds the implementation.
import type { Dispatch, RequestLimits, SandboxOptions, SandboxRequest } from '../host/types';
import type { Context, Isolate, Reference } from './isolate-api';

export interface Sandbox {
  readonly context: Context;
  /** binds the handler of an evaluated ES module deployment (its namespace); throws when there is no fetch handler */
  bindModule(namespace: Reference): unknown;
  /** binds the `fetch` listener a classic script registered; throws when there is none */
  bindScript(): unknown;
  dispatch(request: SandboxRequest, limits: RequestLimits): Dispatch;
  readonly inFlight: number;
  dispose(): void;
}

export type CreateSandbox = (isolate: Isolate, options: SandboxOptions) => Sandbox | Promise<Sandbox>;

let found: CreateSandbox | undefined;

/** host/sandbox.ts's createSandbox, loaded on first use (tenants/ must not load it when only routing). */
export function defaultCreateSandbox(): CreateSandbox {
  if (!found) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require('../host/sandbox') as { createSandbox?: CreateSandbox };
    if (typeof mod.createSandbox !== 'function') throw new Error('server/host/sandbox does not export createSandbox');
    found = mod.createSandbox;
  }
  return found;
}
