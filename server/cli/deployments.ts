// `islet deployments` and `islet rollback`: a tenant's versions.
//   islet deployments <t>                       newest first; '*' marks the active one
//   islet deployments show <t> <id>             one deployment: modules, routes, message, author
//   islet deployments delete <t> <id>           (not the active one)
//   islet deployments diff <t> <from> [<to>]    what changed in the sources (to: the active one)
//   islet rollback <t> [<id>]                   the previous version (or <id>) active again
import { CliError } from '../errors';
import { tenantRoute } from './admin-client';
import { type CommandModule, clientFor, commonHelp, kib, parseCommand, print, table } from './command';
import { escapeTerminal } from './terminal';

export const usage: Record<string, string> = {
  deployments: `usage: islet deployments <tenant>
       islet deployments show <tenant> <id>
       islet deployments delete <tenant> <id>
       islet deployments diff <tenant> <from-id> [<to-id>]

Lists a tenant's deployments, newest first ('*' marks the active one), with the message given
to 'islet deploy -m' and who deployed (operator or token id); shows or deletes one; or prints
the difference between the sources of two deployments (to: the active one when left out).
${commonHelp}`,
  rollback: `usage: islet rollback <tenant> [<deployment-id>]

Makes an earlier deployment active again (an atomic pointer swap on the server): the given one,
or without an id the one deployed before the active one.
${commonHelp}`,
};

interface Deployment {
  id: string;
  createdAt: string;
  format: string;
  entry: string;
  modules: { path: string; size: number }[];
  size: number;
  routes: string[];
  warnings: string[];
  message?: string;
  author?: string;
}

function oneLine(text: string | undefined, max = 60): string {
  if (!text) return '';
  const line = escapeTerminal(text.split('\n')[0]!);
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function show(d: Deployment, active: boolean): string {
  return [
    `deployment  ${d.id}${active ? '  (active)' : ''}`,
    `created     ${d.createdAt}${d.author ? ` by ${d.author}` : ''}`,
    ...(d.message ? [`message     ${escapeTerminal(d.message).replace(/\n/g, '\n            ')}`] : []),
    `entry       ${d.entry} (${d.format})`,
    `size        ${kib(d.size)} in ${d.modules.length} module${d.modules.length === 1 ? '' : 's'}`,
    `routes      ${d.routes.join(', ') || '(none)'}`,
    ...d.warnings.map((w) => `warning     ${w}`),
    '',
    ...d.modules.map((m) => `  ${m.path}  ${kib(m.size)}`),
  ].join('\n');
}

interface FileDiff {
  path: string;
  status: string;
  patch?: string;
  note?: string;
}

async function deployments(args: string[]): Promise<void> {
  const help = usage.deployments!;
  const parsed = parseCommand('deployments', help, args, {});
  if (!parsed) return;
  const { values, positionals } = parsed;
  const actions = new Set(['list', 'show', 'delete', 'diff']);
  const [action, tenant, ...rest] = actions.has(positionals[0] ?? '') ? positionals : ['list', ...positionals];
  if (!tenant) throw new CliError(`islet deployments: which tenant?\n\n${help}`);
  const admin = clientFor(values);
  const base = tenantRoute(tenant, '/deployments');
  switch (action) {
    case 'list': {
      if (rest.length) throw new CliError(`islet deployments: unexpected '${rest[0]}'\n\n${help}`);
      const result = await admin.json('GET', base);
      return print(values.json, result, () =>
        result.deployments.length === 0
          ? `tenant ${tenant} has no deployments`
          : table([
              ['', 'ID', 'CREATED', 'BY', 'MODULES', 'SIZE', 'MESSAGE'],
              ...result.deployments.map((d: Deployment) => [
                d.id === result.active ? '*' : '',
                d.id,
                d.createdAt,
                d.author ?? '-',
                String(d.modules.length),
                kib(d.size),
                oneLine(d.message) || '-',
              ]),
            ]),
      );
    }
    case 'show': {
      if (rest.length !== 1) throw new CliError(`islet deployments show: give a tenant and an id\n\n${help}`);
      const [deployment, tenantInfo] = await Promise.all([
        admin.json('GET', `${base}/${encodeURIComponent(rest[0]!)}`),
        admin.json('GET', tenantRoute(tenant)),
      ]);
      return print(values.json, deployment, () => show(deployment, tenantInfo.active === deployment.id));
    }
    case 'delete': {
      if (rest.length !== 1) throw new CliError(`islet deployments delete: give a tenant and an id\n\n${help}`);
      const result = await admin.json('DELETE', `${base}/${encodeURIComponent(rest[0]!)}`);
      return print(values.json, result, () => `${tenant}: deleted ${result.deleted}`);
    }
    case 'diff': {
      if (rest.length < 1 || rest.length > 2)
        throw new CliError(`islet deployments diff: give a tenant and one or two ids\n\n${help}`);
      const to = rest[1] ?? (await admin.json('GET', tenantRoute(tenant))).active;
      if (!to) throw new CliError(`islet deployments diff: ${tenant} has no active deployment: give both ids`);
      const result = await admin.json('GET', `${base}/${encodeURIComponent(rest[0]!)}/diff/${encodeURIComponent(to)}`);
      return print(values.json, result, () => {
        const changed = (result.files as FileDiff[]).filter((f) => f.status !== 'unchanged');
        if (changed.length === 0) return `no difference between ${rest[0]} and ${to}`;
        return changed
          .map((f) => escapeTerminal(f.patch ?? `${f.status} ${f.path}${f.note ? ` (${f.note})` : ''}`))
          .join('\n');
      });
    }
    default:
      throw new CliError(`islet deployments: unknown action '${action}'\n\n${help}`);
  }
}

async function rollback(args: string[]): Promise<void> {
  const help = usage.rollback!;
  const parsed = parseCommand('rollback', help, args, {});
  if (!parsed) return;
  const { values, positionals } = parsed;
  if (positionals.length < 1 || positionals.length > 2)
    throw new CliError(`islet rollback: give a tenant and, optionally, a deployment id\n\n${help}`);
  const [tenant, id] = positionals as [string, string | undefined];
  // with an id: that deployment's activation; without: the server picks the one before the active one
  const admin = clientFor(values);
  const result = id
    ? await admin.json('POST', tenantRoute(tenant, `/deployments/${encodeURIComponent(id)}/activate`))
    : await admin.json('POST', tenantRoute(tenant, '/rollback'), { type: 'application/json', data: '{}' });
  print(
    values.json,
    result,
    () => `${tenant}: ${result.id} is active again (was ${result.previous ?? 'none'})\n${result.url}`,
  );
}

export const run: CommandModule['run'] = (command, args) =>
  command === 'rollback' ? rollback(args) : deployments(args);
