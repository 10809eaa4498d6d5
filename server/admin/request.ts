// What the admin routes read from a request beyond Hono's own: a capped JSON body, and the
// `:tenant` parameter checked as a name and against the caller's token.
import type { Context } from 'hono';
import { ApiError } from '../errors';
import { readBody } from '../deploy/upload';
import { checkTenantName } from '../store/names';
import { assertTenantAccess } from './auth';

/** JSON bodies of admin routes are capped here; uploads have their own limit */
const maxJsonBytes = 1024 * 1024;

/** The body as a JSON object (413 past 1 MiB); `optional`: an empty body is `{}`. */
export async function readJson(c: Context, optional = false): Promise<Record<string, unknown>> {
  const body = await readBody(c, maxJsonBytes);
  if (body.length === 0) {
    if (optional) return {};
    throw new ApiError('ISLET_ADMIN_BAD_JSON', 'the request body is empty: send a JSON object');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new ApiError('ISLET_ADMIN_BAD_JSON', `the request body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ApiError('ISLET_ADMIN_BAD_JSON', 'the request body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

/** The `:tenant` of the route: a valid tenant name the caller may act on. */
export function tenantParam(c: Context): string {
  const tenant = c.req.param('tenant')!;
  checkTenantName(tenant);
  assertTenantAccess(c, tenant);
  return tenant;
}
