// Who is calling the admin API, and what they may reach: the one authentication and the one
// scoping of every admin route. Two kinds of bearer token:
// - the operator token (ISLET_ADMIN_TOKEN, or generated once into <dataDir>/admin-token): all routes;
// - tenant deploy tokens (created through the API, stored as sha256 only): that tenant's own
//   deployments, env and logs, nothing else;
// - metrics scrape tokens (config `scrapeTokens`, a token or its sha256): GET /metrics, nothing
//   else. Only the metrics route's middleware accepts them; every other route answers 403.
// Tokens are compared as sha256 digests with timingSafeEqual, so neither the comparison time nor
// an early exit tells an attacker how much of a guess was right (deploy tokens are looked up by
// that digest, which a guesser cannot steer either). Invalid tokens are counted per client
// address (auth-failures.ts): past the budget the address gets 429 until the window moves on.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Context, MiddlewareHandler } from 'hono';
import { ApiError } from '../errors';
import type { DeploymentStore } from '../store/types';
import { AuthFailureLimiter } from './auth-failures';

export type Principal = { kind: 'operator' } | { kind: 'tenant'; tenant: string; tokenId: string } | { kind: 'scrape' };

/** the Hono environment of every admin route: `c.get('principal')` after authentication */
export type AdminEnv = { Variables: { principal: Principal } };

/** The middleware every admin route but /healthz (and the dashboard's static page) runs first. */
export type AdminAuth = MiddlewareHandler<AdminEnv>;

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function newToken(): string {
  return `islet_${randomBytes(32).toString('base64url')}`;
}

/**
 * The operator token: `configured` when set, else the one stored in <dataDir>/admin-token,
 * else a new one written there with mode 0600. `created` says whether it was just made (print
 * the path then).
 */
export function loadOperatorToken(
  dataDir: string,
  configured?: string,
): { token: string; file: string | null; created: boolean } {
  if (configured) return { token: configured, file: null, created: false };
  const file = path.join(dataDir, 'admin-token');
  try {
    const token = fs.readFileSync(file, 'utf8').trim();
    if (token) return { token, file, created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const token = newToken();
  try {
    // 'wx': if another process of this machine created it meanwhile, use that one
    fs.writeFileSync(file, token + '\n', { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      return { token: fs.readFileSync(file, 'utf8').trim(), file, created: false };
    throw error;
  }
  return { token, file, created: true };
}

function bearer(c: Context): string | null {
  const header = c.req.header('authorization');
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

/**
 * The failure counter of one server: every authMiddleware over the same store shares it (the
 * deploy API and the observability routes are guarded by separate middleware instances, and an
 * attacker must not get one budget per instance).
 */
const limiters = new WeakMap<DeploymentStore, AuthFailureLimiter>();
function sharedLimiter(store: DeploymentStore): AuthFailureLimiter {
  let limiter = limiters.get(store);
  if (!limiter) limiters.set(store, (limiter = new AuthFailureLimiter()));
  return limiter;
}

/**
 * Who is calling, for the failure counter: the socket's peer address (never a forwarded header,
 * which the caller writes). IPv4-mapped IPv6 counts as the IPv4 address; other IPv6 addresses
 * count by their /64, since one host usually holds a whole /64.
 */
export function clientKey(c: Context): string {
  // @hono/node-server puts { incoming, outgoing } in env, or under env.server when bindings are merged
  type Bindings = { incoming?: { socket?: { remoteAddress?: string } } };
  const env = c.env as (Bindings & { server?: Bindings }) | undefined;
  const address = (env?.server ?? env)?.incoming?.socket?.remoteAddress;
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.split('%')[0]!.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const words = address.includes('::')
    ? [...left, ...new Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
    : left;
  return `${words
    .slice(0, 4)
    .map((w) => w.toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

export interface AuthOptions {
  /** counts invalid tokens per client address; default: one per store, shared by every middleware over it */
  failures?: AuthFailureLimiter;
  /** metrics scrape tokens: each a token or `sha256:<hex>` of one */
  scrapeTokens?: readonly string[];
  /** whether the routes behind this middleware accept a scrape token (only GET /metrics does); default false */
  allowScrape?: boolean;
}

/** the sha256 digests of the configured scrape tokens */
export function scrapeTokenHashes(tokens: readonly string[]): Buffer[] {
  return tokens.map((entry) => {
    const hashed = /^sha256:([0-9a-f]{64})$/i.exec(entry.trim());
    return hashed ? Buffer.from(hashed[1]!, 'hex') : hashToken(entry.trim());
  });
}

/**
 * Authenticates every request it guards and sets `principal`: 401 without a valid token, 429
 * after too many invalid ones.
 */
export function authMiddleware(store: DeploymentStore, operatorToken: string, options: AuthOptions = {}): AdminAuth {
  if (!operatorToken) throw new Error('authMiddleware: the operator token must not be empty');
  const operatorHash = hashToken(operatorToken);
  const failures = options.failures ?? sharedLimiter(store);
  const scrapeHashes = scrapeTokenHashes(options.scrapeTokens ?? []);
  return async (c, next) => {
    const token = bearer(c);
    if (token === null) {
      c.header('WWW-Authenticate', 'Bearer realm="islet"');
      throw new ApiError('ISLET_ADMIN_UNAUTHORIZED', "missing 'Authorization: Bearer <token>' header");
    }
    const client = clientKey(c);
    // decided before the token is looked at: while refused, a right guess and a wrong one look the same
    const wait = failures.retryAfterMs(client);
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      c.header('Retry-After', String(seconds));
      throw new ApiError(
        'ISLET_ADMIN_TOO_MANY_AUTH_FAILURES',
        `too many invalid tokens from this address: retry in ${seconds} s`,
      );
    }
    const hash = hashToken(token);
    if (timingSafeEqual(hash, operatorHash)) {
      c.set('principal', { kind: 'operator' });
      return next();
    }
    // every configured hash is compared, so the time taken does not say which one was close
    let scrape = false;
    for (const known of scrapeHashes) if (timingSafeEqual(hash, known)) scrape = true;
    if (scrape) {
      if (!options.allowScrape)
        throw new ApiError('ISLET_ADMIN_FORBIDDEN', 'a metrics scrape token may only GET /metrics');
      c.set('principal', { kind: 'scrape' });
      return next();
    }
    const record = await store.findTokenByHash(hash.toString('hex'));
    if (!record) {
      failures.recordFailure(client);
      c.header('WWW-Authenticate', 'Bearer realm="islet", error="invalid_token"');
      throw new ApiError('ISLET_ADMIN_UNAUTHORIZED', 'the bearer token is not valid');
    }
    c.set('principal', { kind: 'tenant', tenant: record.tenant, tokenId: record.id });
    return next();
  };
}

// Scoping, after authentication. The auth middleware in front of a route decides who passes;
// the principal it sets narrows what a deploy token reaches. A middleware that sets no principal
// (a stand-in that lets only the operator through) vouches for the operator: its decision stands.

/** who the auth middleware says is calling, if it said */
export function principalOf(c: Context): Principal | undefined {
  const principal = (c.var as { principal?: unknown }).principal;
  return typeof principal === 'object' && principal !== null && 'kind' in principal
    ? (principal as Principal)
    : undefined;
}

/** whether the caller holds the operator token */
export function isOperator(c: Context): boolean {
  return (principalOf(c)?.kind ?? 'operator') === 'operator';
}

/** who made a change, for the log: the operator, or which deploy token */
export function actor(c: Context): string {
  const principal = principalOf(c);
  if (principal?.kind === 'tenant') return `token:${principal.tokenId}`;
  return principal?.kind === 'scrape' ? 'scrape' : 'operator';
}

/** throws 403 unless the caller may act on `tenant` */
export function assertTenantAccess(c: Context, tenant: string): void {
  const principal = principalOf(c);
  if (principal?.kind === 'scrape')
    throw new ApiError('ISLET_ADMIN_FORBIDDEN', 'a metrics scrape token may only GET /metrics');
  if (principal?.kind === 'tenant' && principal.tenant !== tenant) {
    throw new ApiError(
      'ISLET_ADMIN_FORBIDDEN',
      `this token belongs to tenant '${principal.tenant}' and cannot act on tenant '${tenant}'`,
    );
  }
}

/** throws 403 unless the caller holds the operator token; `what` names the action */
export function assertOperator(c: Context, what: string): void {
  if (!isOperator(c)) throw new ApiError('ISLET_ADMIN_FORBIDDEN', `${what} needs the operator token`);
}

/** middleware form of assertTenantAccess for routes with a `:tenant` parameter */
export const requireTenantAccess: MiddlewareHandler = async (c, next) => {
  const tenant = c.req.param('tenant');
  if (tenant !== undefined) assertTenantAccess(c, tenant);
  return next();
};

/** middleware form of assertOperator: `what` names what the route does */
export function requireOperator(what: string): MiddlewareHandler {
  return async (c, next) => {
    assertOperator(c, what);
    return next();
  };
}
