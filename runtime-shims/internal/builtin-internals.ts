// What islet's built-in modules (node:*, cloudflare:workers; server/tenants/builtins.ts links
// them) may take from the bootstrap, and how they get it. The built-ins are separate ES modules,
// so they cannot share the bootstrap's closures; the loader hands the bootstrap the namespace of
// the hidden module `islet:internal` (through bindModule, before any tenant code runs) and the
// bootstrap gives it this object. Tenant code can neither import `islet:internal` (the deploy
// resolver and the linker refuse it) nor reach this object: it holds no bridge, only what the
// tenant could see anyway (its env) and its own async context slot, and node:zlib's host calls
// (./zlib-host.ts: what CompressionStream already offers, and a bounded sync form).
import { asyncContext, type AsyncContext } from './async-context';
import { reportError } from './report';
import { zlibHost, type ZlibHost } from './zlib-host';
import { ObjectFreeze, ObjectKeys, ObjectPrototypeHasOwnProperty } from './primordials';

export interface BuiltinInternals {
  /** the tenant's env (vars, secrets, bindings): `env` of cloudflare:workers, process.env */
  env: Record<string, unknown>;
  asyncContext: AsyncContext;
  /** an error nobody can catch, to the tenant's log */
  reportError(error: unknown): void;
  /** node:zlib's host streams and sync calls */
  zlib: ZlibHost;
}

/** the export of `islet:internal` the bootstrap calls once with the internals */
export const connectExport = '__isletConnectInternals';

let connected = false;

/**
 * host entry (through bindModule): `namespace` is islet:internal's, handed in by the loader before
 * tenant code runs. Returns false when `namespace` is not that module (then it is the entry's).
 */
export function connectBuiltins(namespace: Record<string, unknown>, env: Record<string, unknown>): boolean {
  if (!ObjectPrototypeHasOwnProperty(namespace, connectExport) || ObjectPrototypeHasOwnProperty(namespace, 'default'))
    return false;
  if (connected) return true;
  const connect = namespace[connectExport];
  if (typeof connect !== 'function' || ObjectKeys(namespace).length !== 2) return false;
  connected = true;
  connect(ObjectFreeze({ env, asyncContext, reportError, zlib: zlibHost }));
  return true;
}
