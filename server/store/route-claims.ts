// The part of an activation both stores share: checking a deployment's routes against the routes
// other tenants' active deployments already claim. The policy (what overlaps what: wildcards,
// path prefixes) is the caller's, passed in as `conflicts` (server/deploy/routes.ts); the store
// makes the check and the claim one atomic step, so two racing activations cannot both win. The
// very same route always conflicts: on PostgreSQL a unique constraint on `routeKey` enforces it.
import { StoreError } from '../errors';

export interface RouteClaim {
  /** the route as its deployment declared it */
  route: string;
  tenant: string;
}

/** What two spellings of the very same route share: hostnames are case-insensitive, paths not. */
export function routeKey(pattern: string): string {
  const slash = pattern.indexOf('/');
  return slash <= 0 ? pattern.toLowerCase() : pattern.slice(0, slash).toLowerCase() + pattern.slice(slash);
}

/**
 * The error for the first of `mine` that another tenant's claim blocks, or null. `claims` are
 * visited in order (callers sort them by tenant, then by the order of the tenant's routes), so
 * the message names the same conflict whichever store runs the check.
 */
export function findRouteConflict(
  tenant: string,
  mine: readonly string[],
  claims: Iterable<RouteClaim>,
  conflicts?: (mine: string, theirs: string) => boolean,
): StoreError | null {
  if (mine.length === 0) return null;
  const keys = mine.map(routeKey);
  for (const claim of claims) {
    if (claim.tenant === tenant) continue;
    const theirs = routeKey(claim.route);
    const at = mine.findIndex((route, i) => keys[i] === theirs || conflicts?.(route, claim.route));
    if (at === -1) continue;
    const route = mine[at]!;
    const message =
      keys[at] === theirs
        ? `route '${route}' is already served by tenant '${claim.tenant}'`
        : `route '${route}' overlaps route '${claim.route}' served by tenant '${claim.tenant}'`;
    return new StoreError('ISLET_STORE_ROUTE_TAKEN', message);
  }
  return null;
}
