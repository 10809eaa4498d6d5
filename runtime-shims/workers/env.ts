// The `env` a handler gets: the tenant's vars and secrets as the host copied them in, plus one
// object per binding (a KVNamespace per KV binding, a Fetcher per service binding), made here
// from the binding names the host hands to install(). A binding object takes precedence over a
// var of the same name.
import { ObjectDefineProperty } from '../internal/primordials';
import { createKVNamespace } from './kv';
import { createFetcher } from './service';

export interface BindingNames {
  kv: string[];
  services: string[];
}

export function buildEnv(env: Record<string, unknown>, names: BindingNames | undefined): Record<string, unknown> {
  if (!names) return env;
  const define = (name: string, value: unknown) =>
    ObjectDefineProperty(env, name, { value, writable: true, enumerable: true, configurable: true });
  for (let i = 0; i < names.kv.length; i++) define(names.kv[i]!, createKVNamespace(names.kv[i]!));
  for (let i = 0; i < names.services.length; i++) define(names.services[i]!, createFetcher(names.services[i]!));
  return env;
}
