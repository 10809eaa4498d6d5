// cloudflare:workers: the classes and values Workers code imports from the platform.
// - WorkerEntrypoint: base of a class-based default export; the dispatcher (runtime/dispatch.ts)
//   makes one instance per request, with `this.env` and `this.ctx`, and calls its `fetch`.
// - env: the tenant's env, importable at module scope.
// - DurableObject (and WorkflowEntrypoint): importable so code that declares one deploys;
//   islet has no Durable Objects yet, so constructing one throws an error that says so.
import { internals } from 'islet:internal';

export const env = internals().env;

export class WorkerEntrypoint<Env = unknown> {
  ctx: unknown;
  env: Env;
  constructor(ctx: unknown, env: Env) {
    this.ctx = ctx;
    this.env = env;
  }
}

/** a base class code may extend and export, but whose construction says islet cannot run it */
function notRunnable(name: string, what: string): new (ctx: unknown, env: unknown) => object {
  const base = class {
    constructor(_ctx: unknown, _env: unknown) {
      const error = new Error(
        `${what} are not available in islet yet: a class extending ${name} deploys, but islet cannot run it`,
      );
      (error as Error & { code: string }).code = 'ERR_NOT_AVAILABLE_IN_ISLET';
      throw error;
    }
  };
  Object.defineProperty(base, 'name', { value: name });
  return base;
}

export const DurableObject = notRunnable('DurableObject', 'Durable Objects');
export const WorkflowEntrypoint = notRunnable('WorkflowEntrypoint', 'Workflows');

/** a class whose instances may be passed over RPC; islet has no RPC yet, so it is a plain base class */
export class RpcTarget {}

export default { env, WorkerEntrypoint, DurableObject, WorkflowEntrypoint, RpcTarget };
