// Which tenant a request is for. Two ways in, checked in this order:
//   1. `Host: <tenant>.<baseDomain>`: the tenant name is the first label, found by stripping the
//      base domain (a constant-time check, no table needed);
//   2. custom routes a deployment declares, `hostname/path-prefix*`: a hash map on the hostname,
//      then the longest matching path prefix (an exact path beats any prefix of the same length).
// Routes are replaced per tenant when its active deployment changes.
import { RoutePatternError } from '../errors';

export interface RouteMatch {
  tenant: string;
  via: 'host' | 'route';
  /** the pattern that matched (routes only) */
  pattern?: string;
}

interface Route {
  tenant: string;
  pattern: string;
  /** the path prefix, or the whole path when `exact` */
  path: string;
  exact: boolean;
}

const hostLabel = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Parses `hostname/path-prefix*` (`*.example.com/...` matches any subdomain). */
export function parseRoute(pattern: string): { host: string; path: string; exact: boolean } {
  const slash = pattern.indexOf('/');
  if (slash <= 0) throw new RoutePatternError(pattern, 'missing hostname or path');
  const host = pattern.slice(0, slash).toLowerCase();
  let path = pattern.slice(slash);
  const labels = host.split('.');
  const wildcard = labels[0] === '*';
  if (labels.slice(wildcard ? 1 : 0).some((l) => !hostLabel.test(l)) || (wildcard && labels.length < 2)) {
    throw new RoutePatternError(pattern, `'${host}' is not a host name`);
  }
  const exact = !path.endsWith('*');
  if (!exact) path = path.slice(0, -1);
  if (path.includes('*')) throw new RoutePatternError(pattern, "'*' is only allowed at the end");
  if (path.includes('?') || path.includes('#'))
    throw new RoutePatternError(pattern, 'a route matches paths, not queries or fragments');
  return { host, path, exact };
}

export class TenantRouter {
  readonly #suffix: string;
  /** hostname -> routes, longest path first */
  #hosts = new Map<string, Route[]>();
  /** `*.example.com` patterns keyed by `.example.com` */
  #wildcards = new Map<string, Route[]>();
  /** tenant -> the (host map key, wildcard?) entries it owns, to replace them on redeploy */
  #owned = new Map<string, { key: string; wildcard: boolean }[]>();

  constructor(baseDomain: string) {
    this.#suffix = `.${baseDomain.toLowerCase()}`;
  }

  /** Replaces the custom routes of `tenant` (throws RoutePatternError on a bad pattern, changing nothing). */
  setRoutes(tenant: string, patterns: readonly string[]): void {
    const parsed = patterns.map((p) => ({ pattern: p, ...parseRoute(p) }));
    this.removeTenant(tenant);
    const owned: { key: string; wildcard: boolean }[] = [];
    for (const r of parsed) {
      const wildcard = r.host.startsWith('*.');
      const key = wildcard ? r.host.slice(1) : r.host;
      const table = wildcard ? this.#wildcards : this.#hosts;
      const list = table.get(key) ?? [];
      list.push({ tenant, pattern: r.pattern, path: r.path, exact: r.exact });
      // Longest path first; at equal length an exact path first; then by tenant name so that two
      // tenants claiming the same route resolve the same way in every process.
      list.sort(
        (a, b) => b.path.length - a.path.length || Number(b.exact) - Number(a.exact) || (a.tenant < b.tenant ? -1 : 1),
      );
      table.set(key, list);
      owned.push({ key, wildcard });
    }
    if (owned.length) this.#owned.set(tenant, owned);
  }

  removeTenant(tenant: string): void {
    for (const { key, wildcard } of this.#owned.get(tenant) ?? []) {
      const table = wildcard ? this.#wildcards : this.#hosts;
      const rest = (table.get(key) ?? []).filter((r) => r.tenant !== tenant);
      if (rest.length) table.set(key, rest);
      else table.delete(key);
    }
    this.#owned.delete(tenant);
  }

  /** `hostname`: lower-case, without port. `path`: the request path without the query. */
  match(hostname: string, path: string): RouteMatch | null {
    if (hostname.endsWith(this.#suffix)) {
      const name = hostname.slice(0, -this.#suffix.length);
      // only a valid tenant name (`-x.localhost` is none): anything else is no tenant, not a lookup
      if (name && !name.includes('.') && hostLabel.test(name)) return { tenant: name, via: 'host' };
    }
    const routes = this.#hosts.get(hostname);
    const found = routes && pick(routes, path);
    if (found) return found;
    // Wildcards: try each parent domain, nearest first (a.b.example.com -> .b.example.com -> .example.com).
    for (let dot = hostname.indexOf('.'); dot !== -1; dot = hostname.indexOf('.', dot + 1)) {
      const list = this.#wildcards.get(hostname.slice(dot));
      const hit = list && pick(list, path);
      if (hit) return hit;
    }
    return null;
  }
}

function pick(routes: Route[], path: string): RouteMatch | null {
  for (const r of routes) {
    if (r.exact ? path === r.path : path.startsWith(r.path))
      return { tenant: r.tenant, via: 'route', pattern: r.pattern };
  }
  return null;
}
