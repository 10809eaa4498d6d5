// Custom routes are shared ground: two tenants claiming overlapping `host/path` patterns would
// make one of them serve the other's traffic. A route stays with the tenant whose active
// deployment claimed it first; a deployment (or a rollback) that would take any of it from
// another tenant is refused. Overlap, not only equality: the router sends a path to the longest
// matching prefix and a host to the nearest wildcard, so `shop.example.com/api*` would carve
// the API out of another tenant's `shop.example.com/*`, and `*.example.com/*` would catch
// hosts of `a.example.com/*` that it does not route explicitly. Disjoint paths on one host
// (`example.com/blog*` and `example.com/shop*`) stay possible, and the operator may nest one
// tenant's routes inside another's on purpose (`nested: true`); only the very same route is
// refused to everyone.
//
// `assertRoutesFree` is the early check (before a build is paid for); the binding one is the
// store's: `activate(tenant, id, { conflicts: routeConflicts(...) })` checks and claims in one
// atomic step, so two racing deploys cannot both take a route.
import { parseRoute } from '../front/router';
import type { DeploymentStore } from '../store/types';
import { DeployError } from '../errors';

interface Pattern {
  /** lower-case; `*.example.com` for a wildcard */
  host: string;
  path: string;
  exact: boolean;
}

/** whether some hostname matches both host patterns */
function hostsOverlap(a: string, b: string): boolean {
  if (a === b) return true;
  const wa = a.startsWith('*.') ? a.slice(1) : null; // '.example.com'
  const wb = b.startsWith('*.') ? b.slice(1) : null;
  if (wa !== null && wb !== null) return wa.endsWith(wb) || wb.endsWith(wa);
  if (wa !== null) return b.endsWith(wa);
  if (wb !== null) return a.endsWith(wb);
  return false;
}

/** whether some path matches both path patterns (`exact`, or a prefix when not exact) */
function pathsOverlap(a: Pattern, b: Pattern): boolean {
  if (a.exact && b.exact) return a.path === b.path;
  if (a.exact) return a.path.startsWith(b.path);
  if (b.exact) return b.path.startsWith(a.path);
  return a.path.startsWith(b.path) || b.path.startsWith(a.path);
}

export function routesOverlap(a: string, b: string): boolean {
  const pa = parseRoute(a);
  const pb = parseRoute(b);
  return hostsOverlap(pa.host, pb.host) && pathsOverlap(pa, pb);
}

function sameRoute(a: string, b: string): boolean {
  const [pa, pb] = [parseRoute(a), parseRoute(b)];
  return pa.host === pb.host && pa.path === pb.path && pa.exact === pb.exact;
}

/** The overlap policy the store applies when it claims routes at activation. */
export function routeConflicts(options: { nested?: boolean } = {}): (mine: string, theirs: string) => boolean {
  return options.nested ? sameRoute : routesOverlap;
}

/**
 * Throws 409 ROUTE_TAKEN when another tenant's active deployment serves one of `routes`, or a
 * route overlapping one of them unless `options.nested` (the operator's choice).
 */
export async function assertRoutesFree(store: DeploymentStore, tenant: string, routes: readonly string[], options: { nested?: boolean } = {}): Promise<void> {
  if (routes.length === 0) return;
  const conflicts = routeConflicts(options);
  for (const other of await store.listTenants()) {
    if (other.name === tenant || !other.active) continue;
    const manifest = await store.getDeployment(other.name, other.active);
    for (const theirs of manifest?.routes ?? []) {
      const mine = routes.find((route) => conflicts(route, theirs));
      if (mine !== undefined) {
        const same = sameRoute(mine, theirs);
        throw new DeployError('ISLET_DEPLOY_ROUTE_TAKEN', same ? `route '${mine}' is already served by tenant '${other.name}'` : `route '${mine}' overlaps route '${theirs}' served by tenant '${other.name}'`);
      }
    }
  }
}
