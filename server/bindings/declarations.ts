// What a tenant declares about its bindings, in one shape whichever way it arrives: a tenant's
// configuration (admin API `PUT /v1/tenants/{t}/bindings`, CLI, dashboard) or a deployment's
// wrangler.toml / wrangler.json(c) (server/deploy/wrangler/). Keys follow wrangler's names, so a
// Workers project's settings read the same here; `callers`, `origin` and `route_origins` are
// islet's own (who may call this tenant through a service binding, where a request goes when
// the function throws after `ctx.passThroughOnException()`).
//
// `checkDeclarations` validates a parsed object and names every problem by its key path
// (`kv_namespaces[1].id: expected ...`), so the admin API and the deploy path can answer 400
// with the file (or body), the key and what was expected.
import { Cron } from 'croner';

export interface KvNamespaceBinding {
  /** the name the function sees in `env` */
  binding: string;
  /** the namespace: scoped to the tenant, so two tenants' namespaces of the same id never meet */
  id: string;
}

export interface ServiceBinding {
  binding: string;
  /** the tenant called */
  service: string;
}

export interface BindingDeclarations {
  /** plain values in `env`: strings, or JSON values (wrangler's `[vars]` allows both) */
  vars?: Record<string, unknown>;
  kv_namespaces?: KvNamespaceBinding[];
  services?: ServiceBinding[];
  /** cron expressions (UTC) that run the `scheduled` handler */
  crons?: string[];
  /** tenants allowed to call this one through a service binding ('*': any tenant) */
  callers?: string[];
  /** the origin a request is passed to when the function throws after passThroughOnException() */
  origin?: string;
  /** the same, per route pattern of the tenant's deployment */
  route_origins?: Record<string, string>;
}

/** Keys only a tenant's configuration may set (a deployment's wrangler file may not). */
export const tenantOnlyKeys = ['callers', 'origin', 'route_origins'] as const;

/** binding and var names: a JavaScript identifier, as Workers requires for `env.NAME` */
const bindingName = /^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/;
/** namespace ids: URL-safe, short (Cloudflare's are 32 hex digits; any such name is fine here) */
const namespaceId = /^[A-Za-z0-9_-]{1,64}$/;
const tenantName = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const limits = { vars: 256, varBytes: 64 * 1024, kv: 64, services: 64, crons: 16, callers: 256 };

export interface CheckedDeclarations {
  declarations: BindingDeclarations;
  /** `where: what was wrong, what was expected`, one per bad value */
  problems: string[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const shown = (v: unknown) => {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

/** A cron expression croner accepts with five fields (minute hour day month weekday), or why not. */
export function cronProblem(expression: string): string | null {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5)
    return `expected five fields (minute hour day-of-month month day-of-week), got ${fields.length}`;
  try {
    new Cron(expression, { timezone: 'UTC', paused: true }).stop();
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

/** An absolute http(s) URL without credentials, or why not. */
function originProblem(value: unknown): string | null {
  if (typeof value !== 'string') return `expected an http(s) URL, got ${shown(value)}`;
  const url = URL.parse(value);
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    return `expected an http(s) URL, got ${shown(value)}`;
  if (url.username || url.password) return 'the URL may not carry credentials';
  return null;
}

/**
 * Validates declarations from `raw` (the keys of BindingDeclarations; `triggers.crons` is read
 * by the wrangler reader and handed in as `crons`). `at` prefixes every problem's key path.
 */
export function checkDeclarations(raw: Record<string, unknown>, at = ''): CheckedDeclarations {
  const problems: string[] = [];
  const out: BindingDeclarations = {};
  const key = (k: string) => (at ? `${at}.${k}` : k);
  const names = new Map<string, string>();
  const claim = (name: string, where: string) => {
    const earlier = names.get(name);
    if (earlier) problems.push(`${where}: binding name '${name}' is already used by ${earlier}`);
    else names.set(name, where);
  };

  if (raw.vars !== undefined) {
    if (!isObject(raw.vars)) problems.push(`${key('vars')}: expected a table of NAME = value, got ${shown(raw.vars)}`);
    else {
      const entries = Object.entries(raw.vars);
      if (entries.length > limits.vars)
        problems.push(`${key('vars')}: at most ${limits.vars} vars, got ${entries.length}`);
      out.vars = {};
      for (const [name, value] of entries) {
        const where = `${key('vars')}.${name}`;
        if (!bindingName.test(name)) problems.push(`${where}: expected a JavaScript identifier as the name`);
        else if (value === null || value === undefined) problems.push(`${where}: expected a string or a JSON value`);
        else if (Buffer.byteLength(JSON.stringify(value)) > limits.varBytes)
          problems.push(`${where}: longer than ${limits.varBytes} bytes`);
        else {
          claim(name, where);
          out.vars[name] = value;
        }
      }
    }
  }

  const list = <T>(name: string, max: number, item: (value: unknown, where: string) => T | null): T[] | undefined => {
    const value = raw[name];
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) {
      problems.push(`${key(name)}: expected a list, got ${shown(value)}`);
      return undefined;
    }
    if (value.length > max) problems.push(`${key(name)}: at most ${max} entries, got ${value.length}`);
    const items: T[] = [];
    value.slice(0, max).forEach((entry, i) => {
      const checked = item(entry, `${key(name)}[${i}]`);
      if (checked !== null) items.push(checked);
    });
    return items;
  };

  const kv = list('kv_namespaces', limits.kv, (entry, where) => {
    if (!isObject(entry)) return (problems.push(`${where}: expected { binding, id }, got ${shown(entry)}`), null);
    const { binding, id } = entry;
    if (typeof binding !== 'string' || !bindingName.test(binding))
      return (problems.push(`${where}.binding: expected a JavaScript identifier, got ${shown(binding)}`), null);
    if (typeof id !== 'string' || !namespaceId.test(id))
      return (problems.push(`${where}.id: expected 1-64 of A-Z a-z 0-9 _ -, got ${shown(id)}`), null);
    claim(binding, where);
    return { binding, id };
  });
  if (kv) out.kv_namespaces = kv;

  const services = list('services', limits.services, (entry, where) => {
    if (!isObject(entry)) return (problems.push(`${where}: expected { binding, service }, got ${shown(entry)}`), null);
    const { binding, service } = entry;
    if (typeof binding !== 'string' || !bindingName.test(binding))
      return (problems.push(`${where}.binding: expected a JavaScript identifier, got ${shown(binding)}`), null);
    if (typeof service !== 'string' || !tenantName.test(service))
      return (problems.push(`${where}.service: expected a tenant name, got ${shown(service)}`), null);
    if (entry.entrypoint !== undefined)
      return (problems.push(`${where}.entrypoint: named entrypoints are not supported yet (fetch() only)`), null);
    claim(binding, where);
    return { binding, service };
  });
  if (services) out.services = services;

  const crons = list('crons', limits.crons, (entry, where) => {
    if (typeof entry !== 'string')
      return (problems.push(`${where}: expected a cron expression, got ${shown(entry)}`), null);
    const problem = cronProblem(entry);
    if (problem) return (problems.push(`${where}: '${entry}' is not a cron expression: ${problem}`), null);
    return entry.trim().replace(/\s+/g, ' ');
  });
  if (crons) out.crons = [...new Set(crons)];

  const callers = list('callers', limits.callers, (entry, where) => {
    if (entry === '*' || (typeof entry === 'string' && tenantName.test(entry))) return entry;
    return (problems.push(`${where}: expected a tenant name or '*', got ${shown(entry)}`), null);
  });
  if (callers) out.callers = [...new Set(callers)];

  if (raw.origin !== undefined && raw.origin !== null) {
    const problem = originProblem(raw.origin);
    if (problem) problems.push(`${key('origin')}: ${problem}`);
    else out.origin = raw.origin as string;
  }
  if (raw.route_origins !== undefined) {
    if (!isObject(raw.route_origins)) problems.push(`${key('route_origins')}: expected a table of route = URL`);
    else {
      out.route_origins = {};
      for (const [route, origin] of Object.entries(raw.route_origins)) {
        const problem = originProblem(origin);
        if (problem) problems.push(`${key('route_origins')}["${route}"]: ${problem}`);
        else out.route_origins[route] = origin as string;
      }
    }
  }
  return { declarations: out, problems };
}

/** true when nothing is declared */
export function isEmpty(d: BindingDeclarations | undefined): boolean {
  return !d || Object.values(d).every((v) => v === undefined || (typeof v === 'object' && Object.keys(v).length === 0));
}

/** the keys a tenant's configuration takes (wrangler's `triggers` as another way to give crons) */
const tenantKeys = ['vars', 'kv_namespaces', 'services', 'crons', 'triggers', ...tenantOnlyKeys];

/**
 * Checks a tenant's configuration as given to `PUT /v1/tenants/{t}/bindings` or in a functions
 * folder's `bindings.json`: the keys of a wrangler file, islet's tenant-only keys, and wrangler's
 * `{ "triggers": { "crons": [...] } }` shape for crons.
 */
export function checkTenantDeclarations(body: Record<string, unknown>): CheckedDeclarations {
  const unknown = Object.keys(body).filter((k) => !tenantKeys.includes(k));
  if (unknown.length) {
    const names = unknown.map((k) => `'${k}'`).join(', ');
    return {
      declarations: {},
      problems: [`unknown key${unknown.length > 1 ? 's' : ''} ${names} (known: ${tenantKeys.join(', ')})`],
    };
  }
  const raw = { ...body };
  if (raw.triggers !== undefined) {
    if (!isObject(raw.triggers)) return { declarations: {}, problems: ['triggers: expected { "crons": [...] }'] };
    if (raw.crons !== undefined) return { declarations: {}, problems: ["give 'crons' or 'triggers.crons', not both"] };
    raw.crons = raw.triggers.crons;
    delete raw.triggers;
  }
  return checkDeclarations(raw);
}
