// Every binding op of one sandbox, in one handler group for its op table (host/sandbox.ts):
// KV (./kv/ops.ts), the Cache API (./cache/ops.ts), service bindings (./service/ops.ts), and the
// two marks a function leaves on its request: ctx.passThroughOnException() and, in a scheduled
// handler, controller.noRetry(). Without bindings (a deploy-time check, tests) every op is still
// handled, and answers that nothing is bound.
import type { HostOpHandlers } from '../host/run';
import type { BodyStreams } from '../host/streams/bodies';
import type { HostSources } from '../host/streams/sources';
import { OpBudget } from './budget';
import { type CacheOpName, cacheOps } from './cache/ops';
import type { TenantBindings } from './context';
import { type KvOpName, kvOps } from './kv/ops';
import { serviceOps } from './service/ops';

export type BindingOpName = KvOpName | CacheOpName | 'serviceFetch' | 'passThrough' | 'noRetry';

export interface BindingOpParts {
  sources: HostSources;
  bodies: BodyStreams;
}

export function bindingOps(bindings: TenantBindings | undefined, parts: BindingOpParts): HostOpHandlers<BindingOpName> {
  const budget = new OpBudget(bindings?.limits.bindingOps ?? 0);
  return {
    ...kvOps(bindings, budget),
    ...cacheOps(bindings, budget, bindings?.limits.cacheEntryBytes ?? 0),
    ...serviceOps(bindings, parts),
    // the mark is the calling request's own: a call made on behalf of another request is ignored
    passThrough: (caller, id) => {
      if (caller && caller.id === id) (caller.request.flags ??= {}).passThrough = true;
    },
    noRetry: (caller, id) => {
      if (caller && caller.id === id) (caller.request.flags ??= {}).noRetry = true;
    },
  };
}
