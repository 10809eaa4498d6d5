// `islet env` and `islet secret`: a tenant's environment, as the function sees it in `env`.
// Vars can be read back; secrets only by name (their values are write-only, as in the API).
//   islet env [list] <t>              vars with values, secret names
//   islet env get <t> NAME            one var's value (raw, for $(...))
//   islet env set <t> NAME=VALUE ...  set vars
//   islet env unset <t> NAME ...      remove vars
//   islet secret put <t> NAME         value from stdin (piped, or typed without echo)
//   islet secret delete <t> NAME ...
//   islet secret list <t>
import { CliError } from '../errors';
import { type AdminClient, tenantRoute } from './admin-client';
import { type CommandModule, clientFor, commonHelp, parseCommand, print, table } from './command';

export const usage: Record<string, string> = {
  env: `usage: islet env [list] <tenant>
       islet env get <tenant> NAME
       islet env set <tenant> NAME=VALUE [NAME=VALUE ...]
       islet env unset <tenant> NAME [NAME ...]

A tenant's plain environment variables (the function's env.NAME). A change is served by the
next request (a new isolate starts). Secrets: 'islet secret'.
${commonHelp}`,
  secret: `usage: islet secret put <tenant> NAME        (the value is read from stdin)
       islet secret delete <tenant> NAME [NAME ...]
       islet secret list <tenant>

Secrets reach the function in env like vars, but their values are never shown again: put reads
the value from stdin (echo -n "$KEY" | islet secret put shop API_KEY, or typed without echo at a
terminal), so it lands in no shell history.
${commonHelp}`,
};

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

interface Env {
  vars: Record<string, string>;
  secrets: string[];
}

function checkName(command: string, name: string): string {
  if (!NAME.test(name))
    throw new CliError(
      `islet ${command}: '${name}' is not a valid name (letters, digits and _, not starting with a digit)`,
    );
  return name;
}

function putEnv(admin: AdminClient, tenant: string, change: object): Promise<Env> {
  return admin.json('PUT', tenantRoute(tenant, '/env'), { type: 'application/json', data: JSON.stringify(change) });
}

function listing(env: Env): string {
  const rows = [
    ...Object.entries(env.vars).map(([name, value]) => [name, 'var', value]),
    ...env.secrets.map((name) => [name, 'secret', '(hidden)']),
  ].sort((a, b) => a[0]!.localeCompare(b[0]!));
  return rows.length === 0 ? 'no vars or secrets' : table([['NAME', 'KIND', 'VALUE'], ...rows]);
}

async function env(args: string[]): Promise<void> {
  const help = usage.env!;
  const parsed = parseCommand('env', help, args, {});
  if (!parsed) return;
  const { values, positionals } = parsed;
  const actions = new Set(['list', 'get', 'set', 'unset']);
  const [action, tenant, ...rest] = actions.has(positionals[0] ?? '') ? positionals : ['list', ...positionals];
  if (!tenant) throw new CliError(`islet env: which tenant?\n\n${help}`);
  const admin = clientFor(values);
  switch (action) {
    case 'list': {
      if (rest.length) throw new CliError(`islet env list: unexpected '${rest[0]}'\n\n${help}`);
      const result: Env = await admin.json('GET', tenantRoute(tenant, '/env'));
      return print(values.json, result, () => listing(result));
    }
    case 'get': {
      if (rest.length !== 1) throw new CliError(`islet env get: give one NAME\n\n${help}`);
      const name = checkName('env get', rest[0]!);
      const result: Env = await admin.json('GET', tenantRoute(tenant, '/env'));
      if (result.secrets.includes(name))
        throw new CliError(`islet env get: ${name} is a secret of ${tenant}: its value cannot be read back`);
      if (!(name in result.vars)) throw new CliError(`islet env get: ${tenant} has no var ${name}`);
      return print(values.json, { name, value: result.vars[name] }, () => result.vars[name]!);
    }
    case 'set': {
      if (rest.length === 0) throw new CliError(`islet env set: give at least one NAME=VALUE\n\n${help}`);
      const vars: Record<string, string> = {};
      for (const pair of rest) {
        const eq = pair.indexOf('=');
        if (eq <= 0) throw new CliError(`islet env set: expected NAME=VALUE, got '${pair}'`);
        vars[checkName('env set', pair.slice(0, eq))] = pair.slice(eq + 1);
      }
      const result = await putEnv(admin, tenant, { vars });
      return print(values.json, result, () => `${tenant}: set ${Object.keys(vars).join(', ')}\n${listing(result)}`);
    }
    case 'unset': {
      if (rest.length === 0) throw new CliError(`islet env unset: give at least one NAME\n\n${help}`);
      const current: Env = await admin.json('GET', tenantRoute(tenant, '/env'));
      for (const name of rest) {
        checkName('env unset', name);
        if (current.secrets.includes(name))
          throw new CliError(
            `islet env unset: ${name} is a secret: remove it with 'islet secret delete ${tenant} ${name}'`,
          );
        if (!(name in current.vars)) throw new CliError(`islet env unset: ${tenant} has no var ${name}`);
      }
      const result = await putEnv(admin, tenant, { vars: Object.fromEntries(rest.map((n) => [n, null])) });
      return print(values.json, result, () => `${tenant}: removed ${rest.join(', ')}\n${listing(result)}`);
    }
    default:
      throw new CliError(`islet env: unknown action '${action}'\n\n${help}`);
  }
}

/** stdin's whole text (a pipe), or one line typed at a terminal without echo; a final newline dropped */
async function readSecret(name: string): Promise<string> {
  const stdin = process.stdin;
  if (stdin.isTTY) {
    process.stderr.write(`value of ${name} (not shown): `);
    stdin.setRawMode(true);
    stdin.resume();
    const typed = await new Promise<string>((resolve, reject) => {
      let text = '';
      const onData = (chunk: Buffer) => {
        for (const char of chunk.toString('utf8')) {
          if (char === '\r' || char === '\n') return done(null);
          if (char === '\u0003') return done(new CliError('islet secret put: cancelled'));
          if (char === '\u007f') text = text.slice(0, -1);
          else text += char;
        }
      };
      const done = (error: Error | null) => {
        stdin.off('data', onData);
        stdin.setRawMode(false);
        stdin.pause();
        process.stderr.write('\n');
        if (error) reject(error);
        else resolve(text);
      };
      stdin.on('data', onData);
    });
    return typed;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

async function secret(args: string[]): Promise<void> {
  const help = usage.secret!;
  const parsed = parseCommand('secret', help, args, {});
  if (!parsed) return;
  const { values, positionals } = parsed;
  const [action, tenant, ...names] = positionals;
  if (!action || !tenant) throw new CliError(`islet secret: give an action and a tenant\n\n${help}`);
  const admin = clientFor(values);
  switch (action) {
    case 'list': {
      const result: Env = await admin.json('GET', tenantRoute(tenant, '/env'));
      return print(values.json, { secrets: result.secrets }, () =>
        result.secrets.length ? result.secrets.join('\n') : `${tenant} has no secrets`,
      );
    }
    case 'put': {
      if (names.length !== 1) throw new CliError(`islet secret put: give one NAME\n\n${help}`);
      const name = checkName('secret put', names[0]!);
      const value = await readSecret(name);
      if (value === '') throw new CliError('islet secret put: the value is empty (nothing on stdin)');
      const result = await putEnv(admin, tenant, { secrets: { [name]: value } });
      return print(values.json, { secrets: result.secrets }, () => `${tenant}: secret ${name} stored`);
    }
    case 'delete': {
      if (names.length === 0) throw new CliError(`islet secret delete: give at least one NAME\n\n${help}`);
      const current: Env = await admin.json('GET', tenantRoute(tenant, '/env'));
      for (const name of names)
        if (!current.secrets.includes(checkName('secret delete', name)))
          throw new CliError(`islet secret delete: ${tenant} has no secret ${name}`);
      const result = await putEnv(admin, tenant, { secrets: Object.fromEntries(names.map((n) => [n, null])) });
      return print(values.json, { secrets: result.secrets }, () => `${tenant}: removed ${names.join(', ')}`);
    }
    default:
      throw new CliError(`islet secret: unknown action '${action}'\n\n${help}`);
  }
}

export const run: CommandModule['run'] = (command, args) => (command === 'secret' ? secret(args) : env(args));
