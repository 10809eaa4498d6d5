// What one tenant's sandbox reaches through its bindings, made by the tenant layer for each
// isolate (tenants/tenant-isolate.ts) from the tenant's resolved bindings and the node's binding
// services, and handed to the sandbox in SandboxOptions.bindings. The sandbox's binding ops
// (./ops.ts) act only through this object, so everything a tenant can name is already scoped to
// it: its own namespaces, its own caches, the services it declared.
import type { SandboxRequest, SandboxResponse } from '../host/types';
import type { KvBackend } from './kv/backend';
import type { BindingObserver } from './observer';
import type { ResolvedBindings } from './resolve';
import type { ResponseCache } from './cache/store';

/** the binding limits of a tenant (config Limits, resolved per tenant) */
export interface BindingLimits {
  kvBytes: number;
  kvKeys: number;
  /** KV and cache operations per request or cron run */
  bindingOps: number;
  cacheBytes: number;
  /** the largest response one cache.put() stores (config cache.maxEntryMb) */
  cacheEntryBytes: number;
}

/** how a service binding call reaches the callee (./service/dispatcher.ts) */
export interface ServiceCaller {
  /**
   * Runs `request` in tenant `callee` as if it came from the network, on behalf of `caller`.
   * Resolves with the callee's response; rejects with a ServiceCallError a function may read.
   */
  call(caller: string, callee: string, request: SandboxRequest): Promise<SandboxResponse>;
}

export interface TenantBindings {
  tenant: string;
  resolved: ResolvedBindings;
  limits: BindingLimits;
  /** null: KV is not available on this node (then every KV call fails with a clear message) */
  kv: KvBackend | null;
  cache: ResponseCache | null;
  services: ServiceCaller | null;
  observer: BindingObserver;
}

/** the names the isolate's `env` gets binding objects for */
export interface BindingNames {
  kv: string[];
  services: string[];
}

export function bindingNames(bindings: TenantBindings | undefined): BindingNames {
  if (!bindings) return { kv: [], services: [] };
  return { kv: Object.keys(bindings.resolved.kv), services: Object.keys(bindings.resolved.services) };
}
