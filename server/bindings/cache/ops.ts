// The Cache API's bridge ops: caches.default and caches.open(name) of a tenant's isolate, match,
// put and delete. A cache is named within the tenant ('' the default, ':<name>' an opened one),
// so no name a tenant chooses reaches another tenant's responses. What is stored and for how
// long follows ./policy.ts; a conditional match answers 304 there too.
import type { CachedAnswer, ErrorParts } from '../../bridge/ops';
import type { Completion } from '../../bridge/table';
import { exactBytes } from '../../host/bytes';
import type { Caller, HostOpHandlers } from '../../host/run';
import { type OpBudget, later, refuse } from '../budget';
import type { TenantBindings } from '../context';
import { headerValue, notModified, notModifiedHead, storeDecision } from './policy';

export type CacheOpName = 'cacheMatch' | 'cachePut' | 'cacheDelete';

/** a refusal the function sees as it is */
class CacheRefusal extends Error {
  constructor(readonly parts: ErrorParts) {
    super(parts[1]);
  }
}

function failure(error: unknown): ErrorParts {
  if (error instanceof CacheRefusal) return error.parts;
  return ['Error', 'Cache API: the cache is unavailable on this node, try again'];
}

function checkTarget(cache: unknown, url: unknown): void {
  if (typeof cache !== 'string' || (cache !== '' && !cache.startsWith(':')) || cache.length > 1025) {
    throw new CacheRefusal(['TypeError', 'Cache API: invalid cache name']);
  }
  const parsed = typeof url === 'string' ? URL.parse(url) : null;
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || (url as string).length > 16384) {
    throw new CacheRefusal(['TypeError', 'Invalid URL. Cache API keys must be fully-qualified, valid URLs.']);
  }
}

export function cacheOps(
  bindings: TenantBindings | undefined,
  budget: OpBudget,
  maxEntryBytes: number,
): HostOpHandlers<CacheOpName> {
  const usable = (caller: Caller, op: Completion<unknown>): boolean => {
    if (!budget.take(caller, op, 'Cache API')) return false;
    if (!bindings?.cache) {
      refuse(op, ['Error', 'Cache API: no cache is configured on this node']);
      return false;
    }
    return true;
  };
  const withHit = (headers: string[]) => [...headers, 'cf-cache-status', 'HIT'];

  return {
    cacheMatch: (caller, op, cache, url, requestHeaders) => {
      if (!usable(caller, op)) return;
      later<CachedAnswer | null>(
        op,
        () => {
          checkTarget(cache, url);
          const { tenant } = bindings!;
          const stored = bindings!.cache!.match(tenant, cache, url);
          bindings!.observer.cacheRequest(tenant, stored ? 'hit' : 'miss');
          if (!stored) return null;
          if (Array.isArray(requestHeaders) && notModified(stored.headers, requestHeaders)) {
            return [304, 'Not Modified', withHit(notModifiedHead(stored.headers)), null];
          }
          const body = stored.body.length ? exactBytes(stored.body) : null;
          return [stored.status, stored.statusText, withHit(stored.headers), body];
        },
        failure,
      );
    },

    cachePut: (caller, op, cache, url, status, statusText, headers, body) => {
      if (!usable(caller, op)) return;
      later<null>(
        op,
        () => {
          checkTarget(cache, url);
          if (!Array.isArray(headers) || typeof status !== 'number') {
            throw new CacheRefusal(['TypeError', 'Cache API: invalid response']);
          }
          if (status === 206) {
            throw new CacheRefusal(['TypeError', 'Cannot cache response to a range request (206 Partial Content).']);
          }
          if (headerValue(headers, 'vary')?.includes('*')) {
            throw new CacheRefusal(['TypeError', "Cannot cache response with 'Vary: *' header."]);
          }
          const bytes = body === null ? Buffer.alloc(0) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
          if (bytes.length > maxEntryBytes) {
            throw new CacheRefusal([
              'Error',
              `Cache API put failed: 413 the response body of ${bytes.length} bytes is larger than ` +
                `this node's limit of ${maxEntryBytes} bytes per cached response`,
            ]);
          }
          // as workerd: a 304 answers a conditional request; cached, it would later answer plain ones
          if (status === 304) return null;
          const decision = storeDecision(status, headers);
          // as in Workers, a response the rules do not keep is not an error: put() resolves
          if (!decision.store) return null;
          const response = {
            status,
            statusText: String(statusText),
            headers: decision.headers,
            body: Buffer.from(bytes),
          };
          const { tenant, limits } = bindings!;
          bindings!.cache!.put(tenant, cache, url, response, decision.ttlMs, limits.cacheBytes);
          return null;
        },
        failure,
      );
    },

    cacheDelete: (caller, op, cache, url) => {
      if (!usable(caller, op)) return;
      later<boolean>(
        op,
        () => {
          checkTarget(cache, url);
          return bindings!.cache!.delete(bindings!.tenant, cache, url);
        },
        failure,
      );
    },
  };
}
