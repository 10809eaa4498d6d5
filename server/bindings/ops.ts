// Every binding op of one sandbox, in one handler group for its op table (host/sandbox.ts):
// KV (./kv/ops.ts), the Cache API (./cache/ops.ts), service bindings (./service/ops.ts), and the
// two marks a function leaves on its request: ctx.passThroughOnException() and, in a scheduled
// handler, controller.noRetry(). Without bindings (a deploy-time check, tests) every op is still
// handled, and answers that nothing is bound.
import type { Completion } from '../bridge/table';
import type { Caller, HostOpHandlers } from '../host/run';
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
    ...traced('kv', kvOps(bindings, budget)),
    ...traced('cache', cacheOps(bindings, budget, bindings?.limits.cacheEntryBytes ?? 0)),
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

// any op's arguments pass through unchanged
type LaterHandler = (caller: Caller, op: Completion<any>, ...args: any[]) => void;

/**
 * The ops of one binding type with a child span per call when the calling request is traced
 * (`kv.get`, `cache.match`...; the binding's name as an attribute, never the key or URL, which
 * may be the tenant's data). Untraced requests take the handler as it is: one property read.
 */
function traced<Ops extends { [name: string]: LaterHandler }>(type: 'kv' | 'cache', ops: Ops): Ops {
  const out: Record<string, LaterHandler> = {};
  for (const [name, handler] of Object.entries(ops)) {
    const operation = name.slice(type.length).toLowerCase();
    out[name] = (caller, op, ...args) => {
      const trace = caller?.request.trace;
      if (!trace) return handler(caller, op, ...args);
      const span = trace.child(`${type}.${operation}`, 'client', {
        'islet.binding': String(args[0]),
        'islet.binding.type': type,
      });
      const wrapped: Completion<unknown> = {
        id: op.id,
        resolve: (value) => {
          span.end();
          op.resolve(value);
        },
        reject: (error) => {
          span.end({}, error[1]);
          op.reject(error);
        },
        onAbort: (abort) => op.onAbort(abort),
        discard: () => {
          span.end();
          op.discard();
        },
      };
      try {
        handler(caller, wrapped, ...args);
      } catch (error) {
        span.end({}, (error as Error)?.message ?? String(error));
        throw error;
      }
    };
  }
  return out as Ops;
}
