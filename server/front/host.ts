// Where a request is going: the host name that routes it (to a worker process in the
// supervisor, server/cluster.ts; to a tenant in the front), read once, the same way for both.
// The request target wins when it is in absolute form (`GET http://t.example.com/p HTTP/1.1`:
// RFC 9112 3.2.2 says a server must then ignore the Host header); otherwise the Host header
// names the host. Either way the host is validated (a DNS name or an IP literal, an optional
// port) and lower-cased, without its port and without a DNS root dot.

/** A routable request: where it goes and the path it asks for. */
export interface RequestTarget {
  /** lower-case host name or IP literal ([v6] in brackets), no port: what routing uses */
  hostname: string;
  /** the host as the client gave it, port included: builds the URL the function sees */
  authority: string;
  /** the origin-form target: path and query, always starting with '/' */
  path: string;
}

/** why a request cannot be routed, as the front's 400 answer says it */
export interface TargetProblem {
  problem: string;
}

const absoluteForm = /^https?:\/\/([^/?#]+)([^#]*)/i;

/**
 * The target of a request from its request-target (`req.url`) and Host header. An absolute-form
 * target's authority takes precedence over Host; anything but an origin-form path or an absolute
 * http(s) URL is a problem, as is a missing or malformed host.
 */
export function requestTarget(target: string, hostHeader: string | undefined): RequestTarget | TargetProblem {
  let path = target;
  let authority = hostHeader;
  if (path[0] !== '/') {
    const absolute = absoluteForm.exec(path);
    if (!absolute) return { problem: 'bad request target: expected a path starting with / or an absolute http URL' };
    authority = absolute[1]!;
    path = absolute[2] || '/';
    if (path[0] !== '/') path = `/${path}`;
  }
  if (authority === undefined || authority === '') {
    return { problem: 'missing Host header: islet routes requests by host name' };
  }
  const hostname = parseHost(authority);
  if (hostname === null) return { problem: `bad Host header '${authority.slice(0, 100)}': expected a host name` };
  return { hostname, authority, path };
}

const hostnameChars = /^[a-z0-9.-]+$/;

// Clients send the same few Host headers over and over: their parsed form is remembered (bounded:
// the whole table is dropped when full, so hostile variety costs a re-parse, never memory).
const hostCache = new Map<string, string | null>();
const hostCacheMax = 4096;

/** The lower-case host name of a Host header value without its port, or null when it is not a valid one. */
export function parseHost(value: string | undefined): string | null {
  if (!value) return null;
  let host = hostCache.get(value);
  if (host === undefined) {
    host = parseHostUncached(value);
    if (hostCache.size >= hostCacheMax) hostCache.clear();
    hostCache.set(value, host);
  }
  return host;
}

function parseHostUncached(value: string): string | null {
  let host = value.toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end === -1) return null;
    const rest = host.slice(end + 1);
    if (rest && !/^:\d{1,5}$/.test(rest)) return null;
    host = host.slice(0, end + 1);
    return /^\[[0-9a-f:.]+\]$/.test(host) ? host : null;
  }
  const colon = host.indexOf(':');
  if (colon !== -1) {
    if (!/^\d{1,5}$/.test(host.slice(colon + 1))) return null;
    host = host.slice(0, colon);
  }
  if (host.endsWith('.')) host = host.slice(0, -1); // the absolute form of a DNS name
  return host.length > 0 && host.length <= 253 && hostnameChars.test(host) ? host : null;
}
