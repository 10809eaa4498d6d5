// Custom routes are shared ground: two tenants claiming the same `host/path` would make one of
// them serve the other's traffic. A route stays with the tenant whose active deployment claimed
// it first; a deployment (or a rollback) that would take it from another tenant is refused.
import { parseRoute } from '../front/router';
import type { DeploymentStore } from '../store/types';
import { ApiError } from './http-errors';

function key(route: string): string {
  const { host, path, exact } = parseRoute(route);
  return `${host}${path}${exact ? '' : '*'}`;
}

/** throws 409 ROUTE_TAKEN when another tenant's active deployment serves one of `routes` */
export async function assertRoutesFree(store: DeploymentStore, tenant: string, routes: readonly string[]): Promise<void> {
  if (routes.length === 0) return;
  const wanted = new Map(routes.map((r) => [key(r), r]));
  for (const other of await store.listTenants()) {
    if (other.name === tenant || !other.active) continue;
    const manifest = await store.getDeployment(other.name, other.active);
    for (const route of manifest?.routes ?? []) {
      const mine = wanted.get(key(route));
      if (mine !== undefined) {
        throw new ApiError(409, 'ROUTE_TAKEN', `route '${mine}' is already served by tenant '${other.name}'`);
      }
    }
  }
}
