// Names that end up in file paths (tenants, deployment ids, module paths) are checked here, once,
// so that no caller can steer the store outside its data directory.
import { StoreError } from '../errors';

/** A tenant name is a DNS label: it becomes `<tenant>.<base domain>`. */
const tenantPattern = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** Ids (deployments, tokens) are URL-safe and short. */
const idPattern = /^[A-Za-z0-9_-]{1,64}$/;

export function checkTenantName(name: string): string {
  if (typeof name !== 'string' || !tenantPattern.test(name)) {
    throw new StoreError(
      'ISLET_STORE_INVALID_NAME',
      `invalid tenant name ${JSON.stringify(name)}: ` +
        "use 1-63 lower-case letters, digits and '-', not starting or ending with '-'",
    );
  }
  return name;
}

export function checkId(id: string, what = 'id'): string {
  if (typeof id !== 'string' || !idPattern.test(id)) {
    throw new StoreError(
      'ISLET_STORE_INVALID_NAME',
      `invalid ${what} ${JSON.stringify(id)}: use 1-64 of A-Z a-z 0-9 _ -`,
    );
  }
  return id;
}

/** Module paths are POSIX, relative, normalized: no `.`/`..` segments, no empty segments, no NUL. */
export function checkModulePath(p: string): string {
  const bad =
    typeof p !== 'string' ||
    p.length === 0 ||
    p.length > 1024 ||
    p.startsWith('/') ||
    p.includes('\\') ||
    p.includes('\0') ||
    p.split('/').some((seg) => seg === '' || seg === '.' || seg === '..');
  if (bad) throw new StoreError('ISLET_STORE_INVALID_NAME', `invalid module path ${JSON.stringify(p)}`);
  return p;
}
