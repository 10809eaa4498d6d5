// `islet tenants` and `islet routes`: tenants and the hostnames they answer on.
//   islet tenants [list]                    every tenant the token may see
//   islet tenants show <t>                  one tenant: active deployment, URL, routes, limits
//   islet tenants create <t> [k=v ...]      create (operator), with limit overrides
//   islet tenants limits <t> k=v [k=null]   change limit overrides (operator; null removes one)
//   islet tenants delete <t> --yes          delete with every deployment, env and token (operator)
//   islet routes [<t>]                      custom routes -> tenant
import { CliError } from '../errors';
import { tenantRoute } from './admin-client';
import { type CommandModule, clientFor, commonHelp, expectPositionals, parseCommand, print, table } from './command';

export const usage: Record<string, string> = {
  tenants: `usage: islet tenants [list | show <t> | create <t> [limit=N ...] | limits <t> limit=N ... | delete <t> --yes]

Lists tenants with their active deployment and URL, or shows, creates, changes or deletes one.
Limits are the names of config/README.md's per-tenant limits (cpuMs=100 memoryMb=64 ...);
'limits <t> cpuMs=null' removes an override. create, limits and delete need the operator token.

options:
  --yes               confirm 'delete' (it removes every deployment, env var, secret and token)
${commonHelp}`,
  routes: `usage: islet routes [<tenant>]

Lists the custom routes (host/path patterns) of every tenant's active deployment, or of one
tenant. Routes are declared with 'islet deploy --routes'; <tenant>.<base domain> always answers.
${commonHelp}`,
};

/** `cpuMs=100 memoryMb=null` -> { cpuMs: 100, memoryMb: null } */
function parseLimits(command: string, pairs: string[]): Record<string, number | null> {
  const limits: Record<string, number | null> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq);
    const text = pair.slice(eq + 1);
    const value = text === 'null' ? null : Number(text);
    if (eq <= 0 || (value !== null && (!Number.isFinite(value) || text.trim() === ''))) {
      throw new CliError(`islet ${command}: expected limit=NUMBER (or limit=null), got '${pair}'`);
    }
    limits[name] = value;
  }
  return limits;
}

interface TenantInfo {
  name: string;
  active: string | null;
  url: string;
  routes: string[];
  createdAt: string;
  limits: Record<string, number>;
}

function describe(t: TenantInfo): string {
  const limits = Object.entries(t.limits ?? {});
  return [
    `tenant   ${t.name}`,
    `url      ${t.url}`,
    `active   ${t.active ?? '(none)'}`,
    `routes   ${t.routes.join(', ') || '(none)'}`,
    `created  ${t.createdAt}`,
    `limits   ${limits.length ? limits.map(([k, v]) => `${k}=${v}`).join(' ') : '(defaults)'}`,
  ].join('\n');
}

async function tenants(args: string[]): Promise<void> {
  const help = usage.tenants!;
  const parsed = parseCommand('tenants', help, args, { yes: { type: 'boolean', default: false } });
  if (!parsed) return;
  const { values, positionals } = parsed;
  const [action = 'list', name, ...rest] = positionals;
  const admin = clientFor(values);
  switch (action) {
    case 'list': {
      expectPositionals('tenants list', help, positionals.slice(1), 0);
      const result = await admin.json('GET', '/v1/tenants');
      return print(values.json, result, () =>
        result.tenants.length === 0
          ? 'no tenants'
          : table([
              ['NAME', 'ACTIVE', 'URL', 'ROUTES'],
              ...result.tenants.map((t: TenantInfo) => [t.name, t.active ?? '-', t.url, t.routes.join(',') || '-']),
            ]),
      );
    }
    case 'show': {
      expectPositionals('tenants show', help, positionals.slice(1), 1);
      const result = await admin.json('GET', tenantRoute(name!));
      return print(values.json, result, () => describe(result));
    }
    case 'create': {
      if (!name) throw new CliError(`islet tenants create: which tenant?\n\n${help}`);
      const result = await admin.json('PUT', tenantRoute(name), {
        type: 'application/json',
        data: JSON.stringify({ limits: parseLimits('tenants create', rest) }),
      });
      return print(values.json, result, () => `tenant ${result.name} ready\n${describe(result)}`);
    }
    case 'limits': {
      if (!name || rest.length === 0)
        throw new CliError(`islet tenants limits: give a tenant and at least one limit=N\n\n${help}`);
      const result = await admin.json('PATCH', tenantRoute(name), {
        type: 'application/json',
        data: JSON.stringify({ limits: parseLimits('tenants limits', rest) }),
      });
      return print(values.json, result, () => describe(result));
    }
    case 'delete': {
      expectPositionals('tenants delete', help, positionals.slice(1), 1);
      if (!values.yes)
        throw new CliError(
          `islet tenants delete: this removes ${name} with every deployment, env var, secret and token; ` +
            'add --yes to confirm',
        );
      const result = await admin.json('DELETE', tenantRoute(name!));
      return print(values.json, result, () => `tenant ${name} deleted`);
    }
    default:
      throw new CliError(`islet tenants: unknown action '${action}'\n\n${help}`);
  }
}

async function routes(args: string[]): Promise<void> {
  const help = usage.routes!;
  const parsed = parseCommand('routes', help, args, {});
  if (!parsed) return;
  const { values, positionals } = parsed;
  expectPositionals('routes', help, positionals, 0, 1);
  const admin = clientFor(values);
  const list: TenantInfo[] = positionals[0]
    ? [await admin.json('GET', tenantRoute(positionals[0]))]
    : (await admin.json('GET', '/v1/tenants')).tenants;
  const rows = list.flatMap((t) => t.routes.map((route) => ({ route, tenant: t.name, deployment: t.active })));
  print(values.json, { routes: rows }, () =>
    rows.length === 0
      ? 'no custom routes'
      : table([['ROUTE', 'TENANT', 'DEPLOYMENT'], ...rows.map((r) => [r.route, r.tenant, r.deployment ?? '-'])]),
  );
}

export const run: CommandModule['run'] = (command, args) => (command === 'routes' ? routes(args) : tenants(args));
