// A tenant's cookies stay on its own hostnames. `Set-Cookie: a=1; Domain=localhost` from
// tenant A, served as a.localhost, would be sent by browsers to every tenant's <t>.localhost
// (and `Domain=sqb.localhost` to tenant sqb's): session fixation and cookie tossing across
// tenants. A Domain attribute is kept when it names the request's own host, or the tenant's own
// `<tenant>.<base>` when the request came through that name or a name under it; any other Domain
// attribute is removed, which makes the cookie host-only: set for the request's host, as the
// tenant would have wanted for the host it answered on. Cookies without one pass untouched.

/** the hosts a response may scope cookies to */
export interface CookieScope {
  /** the request's host name, lower case, no port */
  host: string;
  /** `<tenant>.<base>`, lower case */
  own: string;
}

const hasDomain = /;\s*domain\s*=/i;

/** `value` (one Set-Cookie header) with a Domain attribute that reaches other hosts removed */
export function scopeCookie(value: string, scope: CookieScope): string {
  if (!hasDomain.test(value)) return value;
  const parts = value.split(';');
  const kept = [parts[0]!];
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i]!;
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim().toLowerCase() !== 'domain') {
      kept.push(part);
      continue;
    }
    const domain = part
      .slice(eq + 1)
      .trim()
      .toLowerCase()
      .replace(/^\./, '');
    if (allowed(domain, scope)) kept.push(part);
  }
  return kept.join(';');
}

function allowed(domain: string, { host, own }: CookieScope): boolean {
  if (domain === host) return true;
  return domain === own && (host === own || host.endsWith(`.${own}`));
}
