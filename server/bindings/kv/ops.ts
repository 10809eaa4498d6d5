// The KV bridge ops: env.NS.get/getWithMetadata/put/delete/list of a tenant's isolate. A binding
// name resolves to a namespace of the tenant's own (TenantBindings.resolved.kv), so the isolate
// can name nothing else. Every call is checked (./validate.ts), counted against the request's
// binding operations (../budget.ts) and the tenant's quota of bytes and keys (in the backend's
// write transaction), and done once the current entry is over.
import type { ErrorParts, KvGetAnswer, KvListAnswer } from '../../bridge/ops';
import type { Completion } from '../../bridge/table';
import { exactBytes } from '../../host/bytes';
import type { Caller, HostOpHandlers } from '../../host/run';
import { type OpBudget, later, refuse } from '../budget';
import type { TenantBindings } from '../context';
import { type KvNamespaceRef, KvQuotaError } from './backend';
import {
  KvRefusal,
  checkCacheTtl,
  checkCursor,
  checkExpiration,
  checkKey,
  checkListOptions,
  checkMetadata,
  checkValue,
} from './validate';

export type KvOpName = 'kvGet' | 'kvPut' | 'kvDelete' | 'kvList';

const types = new Set(['text', 'json', 'arrayBuffer', 'stream']);

/** what a failed KV call tells the function */
function failure(method: string): (error: unknown) => ErrorParts {
  return (error) => {
    if (error instanceof KvRefusal) return error.parts;
    if (error instanceof KvQuotaError) return ['Error', `KV ${method} failed: 413 ${error.message}.`];
    // the backend failed (disk full, database busy past its timeout): not the function's doing
    return ['Error', `KV ${method} failed: 503 the KV store is unavailable, try again`];
  };
}

export function kvOps(bindings: TenantBindings | undefined, budget: OpBudget): HostOpHandlers<KvOpName> {
  /** the namespace `binding` names for this tenant, or null after refusing the op */
  const namespace = (caller: Caller, op: Completion<unknown>, binding: string): KvNamespaceRef | null => {
    if (!budget.take(caller, op, 'KV')) return null;
    const id = bindings?.resolved.kv[binding];
    if (!bindings || id === undefined || !Object.hasOwn(bindings.resolved.kv, binding)) {
      refuse(op, ['TypeError', `KV binding '${String(binding)}' is not bound to this worker`]);
      return null;
    }
    if (!bindings.kv) {
      refuse(op, ['Error', 'KV is not available on this node (no KV backend is configured)']);
      return null;
    }
    return { tenant: bindings.tenant, namespace: id };
  };

  return {
    kvGet: (caller, op, binding, key, type, cacheTtl) => {
      const ns = namespace(caller, op, binding);
      if (!ns) return;
      later<KvGetAnswer>(
        op,
        async () => {
          checkKey('GET', key);
          if (!types.has(type)) {
            throw new KvRefusal([
              'TypeError',
              'Unknown response type. Possible types are "text", "arrayBuffer", "json", and "stream".',
            ]);
          }
          // cacheTtl bounds how stale an edge copy may be; reads here are never stale, so it is only checked
          checkCacheTtl(cacheTtl);
          bindings!.observer.kvOperation(ns.tenant, 'get');
          const entry = await bindings!.kv!.get(ns, key);
          if (!entry) return [null, null];
          const value = type === 'text' || type === 'json' ? entry.value.toString('utf8') : exactBytes(entry.value);
          return [value, entry.metadata];
        },
        failure('GET'),
      );
    },

    kvPut: (caller, op, binding, key, value, expiration, expirationTtl, metadata) => {
      const ns = namespace(caller, op, binding);
      if (!ns) return;
      later<null>(
        op,
        async () => {
          checkKey('PUT', key);
          const entry = {
            value: checkValue(value),
            expiration: checkExpiration(expiration, expirationTtl),
            metadata: checkMetadata(metadata),
          };
          bindings!.observer.kvOperation(ns.tenant, 'put');
          const { kvBytes: bytes, kvKeys: keys } = bindings!.limits;
          await bindings!.kv!.put(ns, key, entry, { bytes, keys });
          return null;
        },
        failure('PUT'),
      );
    },

    kvDelete: (caller, op, binding, key) => {
      const ns = namespace(caller, op, binding);
      if (!ns) return;
      later<null>(
        op,
        async () => {
          checkKey('DELETE', key);
          bindings!.observer.kvOperation(ns.tenant, 'delete');
          await bindings!.kv!.delete(ns, key);
          return null;
        },
        failure('DELETE'),
      );
    },

    kvList: (caller, op, binding, prefix, limit, cursor) => {
      const ns = namespace(caller, op, binding);
      if (!ns) return;
      later<KvListAnswer>(
        op,
        async () => {
          const options = { ...checkListOptions(prefix, limit), cursor: checkCursor(cursor) };
          bindings!.observer.kvOperation(ns.tenant, 'list');
          const page = await bindings!.kv!.list(ns, options);
          const keys = page.keys.map(
            (k) => [k.name, k.expiration, k.metadata] as [string, number | null, string | null],
          );
          return [keys, page.cursor === null, page.cursor];
        },
        failure('GET'),
      );
    },
  };
}
