// Which hostnames a tenant's routes may name. The platform's base domain belongs to the
// platform: `<tenant>.<base>` is how tenants are told apart, so no route may name `<base>`, a
// name under it (`login.sqb.localhost` would answer for users of tenant sqb), or a wildcard
// reaching into it (`*.localhost`) — except a tenant's own `<tenant>.<base>`. Any other hostname
// must be one the tenant owns: assigned by the operator, or proved by the tenant with a DNS TXT
// record or an HTTP token (hostname-proof.ts), as Cloudflare for SaaS does with custom hostnames.
// A proved `*.example.com` covers every name under example.com. The operator's own deploys may
// use any hostname outside the base domain. Checked when an upload names routes and again when
// a stored deployment is activated; which tenant serves a route is then the store's atomic claim.
import { DeployError } from '../errors';
import { parseRoute } from '../front/router';
import type { DeploymentStore, HostnameRecord } from '../store/types';

/** the hostname part of a route, lower case (`*.example.com` for a wildcard) */
export function routeHost(route: string): string {
  return parseRoute(route).host;
}

/** `host` (or `*.host`) is, or reaches into, the base domain, and is not the tenant's own name */
export function reservedHost(host: string, baseDomain: string, tenant: string): boolean {
  const base = baseDomain.toLowerCase();
  const wildcard = host.startsWith('*.');
  const bare = wildcard ? host.slice(2) : host;
  if (!wildcard && bare === `${tenant}.${base}`) return false;
  if (bare === base || bare.endsWith(`.${base}`)) return true;
  // `*.example.com` matches `x.islet.example.com` when the base is islet.example.com
  return wildcard && base.endsWith(`.${bare}`);
}

export function reservedError(route: string, host: string, baseDomain: string, tenant: string): DeployError {
  return new DeployError(
    'ISLET_DEPLOY_HOSTNAME_RESERVED',
    `route '${route}': '${host}' is on the platform's base domain ${baseDomain}, whose names belong to ` +
      `tenants by name; tenant '${tenant}' answers on ${tenant}.${baseDomain} already`,
  );
}

/**
 * Whether a record covers `host` (a name, or `*.` + one): its very name, or, for `*.example.com`
 * (proved at the zone: a TXT record of example.com, or assigned), example.com and every name and
 * wildcard under it.
 */
export function covers(record: HostnameRecord, host: string): boolean {
  if (record.hostname === host) return true;
  if (!record.hostname.startsWith('*.')) return false;
  const zone = record.hostname.slice(1); // '.example.com'
  const name = host.startsWith('*.') ? host.slice(1) : `.${host}`;
  return name.endsWith(zone);
}

export interface RouteCheck {
  baseDomain: string;
  /** the operator deploys: any hostname outside the base domain */
  operator: boolean;
}

/**
 * Throws 403 HOSTNAME_RESERVED for a route on the base domain and 403 HOSTNAME_NOT_VERIFIED for
 * a route on a hostname the tenant does not own (unless the operator deploys).
 */
export async function assertRoutesAllowed(
  store: DeploymentStore,
  tenant: string,
  routes: readonly string[],
  check: RouteCheck,
): Promise<void> {
  if (routes.length === 0) return;
  let owned: HostnameRecord[] | null = null;
  for (const route of routes) {
    const host = routeHost(route);
    if (reservedHost(host, check.baseDomain, tenant)) throw reservedError(route, host, check.baseDomain, tenant);
    if (check.operator || host === `${tenant}.${check.baseDomain.toLowerCase()}`) continue;
    owned ??= (await store.listHostnames(tenant)).filter((r) => r.verifiedBy !== null);
    if (owned.some((r) => covers(r, host))) continue;
    throw new DeployError(
      'ISLET_DEPLOY_HOSTNAME_NOT_VERIFIED',
      `route '${route}': tenant '${tenant}' has not proved it controls '${host}'. Ask for it with ` +
        `POST /v1/tenants/${tenant}/hostnames {"hostname": "${host}"}, publish the token it answers ` +
        `(DNS TXT record or HTTP file), then POST /v1/tenants/${tenant}/hostnames/${host}/verify; or ask the ` +
        'operator to assign it',
    );
  }
}
