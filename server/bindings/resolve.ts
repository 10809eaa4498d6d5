// The bindings a tenant's isolate is given: its configuration (admin API) merged with what its
// active deployment declares (wrangler file), as the tenant directory reads them. A name both
// declare takes the deployment's value (a deployment is what the code was written against);
// crons come from the deployment when it declares any `triggers`, as a Workers deploy replaces
// a script's triggers; who may call the tenant and where its requests pass through to are the
// tenant's settings only.
import type { BindingDeclarations } from './declarations';

export interface ResolvedBindings {
  /** plain env values (strings or JSON values) */
  vars: Record<string, unknown>;
  /** binding name -> namespace id (scoped to the tenant) */
  kv: Record<string, string>;
  /** binding name -> tenant called */
  services: Record<string, string>;
  crons: string[];
  /** tenants that may call this one ('*': any) */
  callers: string[];
  origin: string | null;
  routeOrigins: Record<string, string>;
}

export const noBindings: ResolvedBindings = Object.freeze({
  vars: {},
  kv: {},
  services: {},
  crons: [],
  callers: [],
  origin: null,
  routeOrigins: {},
}) as ResolvedBindings;

function asDeclarations(value: unknown): BindingDeclarations {
  return typeof value === 'object' && value !== null ? (value as BindingDeclarations) : {};
}

/** `tenant`: the tenant record's bindings; `deployment`: the active manifest's (both as stored) */
export function resolveBindings(tenant: unknown, deployment: unknown): ResolvedBindings {
  const t = asDeclarations(tenant);
  const d = asDeclarations(deployment);
  const out: ResolvedBindings = {
    vars: {},
    kv: {},
    services: {},
    crons: [],
    callers: [...(t.callers ?? [])],
    origin: t.origin ?? null,
    routeOrigins: { ...t.route_origins },
  };
  for (const source of [t, d]) {
    // a name taken by another kind of binding in the later source is dropped from the earlier ones
    for (const [name, value] of Object.entries(source.vars ?? {})) {
      delete out.kv[name];
      delete out.services[name];
      out.vars[name] = value;
    }
    for (const { binding, id } of source.kv_namespaces ?? []) {
      delete out.vars[binding];
      delete out.services[binding];
      out.kv[binding] = id;
    }
    for (const { binding, service } of source.services ?? []) {
      delete out.vars[binding];
      delete out.kv[binding];
      out.services[binding] = service;
    }
  }
  out.crons = [...(d.crons ?? t.crons ?? [])];
  return out;
}

/** whether `caller` may call a tenant with these bindings through a service binding */
export function acceptsCaller(bindings: ResolvedBindings, caller: string): boolean {
  return bindings.callers.includes('*') || bindings.callers.includes(caller);
}
