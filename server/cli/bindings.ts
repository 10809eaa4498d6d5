// `islet bindings` and `islet scheduled`: a tenant's declared bindings (KV namespaces, services,
// cron triggers, vars, who may call it, its origin) and running its scheduled handler by hand,
// through the admin API (server/admin/bindings.ts). `--set` takes a JSON file, or a TOML file
// in wrangler's shape ([[kv_namespaces]], [triggers] crons = [...]), or `-` for JSON on stdin.
import fs from 'node:fs';
import { parseConfig } from '../deploy/wrangler/parse';
import { CliError } from '../errors';
import { queryString, tenantRoute } from './admin-client';
import { type CommandModule, clientFor, commonHelp, expectPositionals, parseCommand, print } from './command';

export const usage: Record<string, string> = {
  bindings: `usage: islet bindings <tenant> [--set <file.json|file.toml|->]

Shows what the tenant declares, what its active deployment's wrangler file declares, and what its
isolates get (the two merged); --set replaces the tenant's declarations:
  { "kv_namespaces": [{ "binding": "NS", "id": "ns" }], "services": [{ "binding": "API", "service": "api" }],
    "crons": ["*/5 * * * *"], "vars": { "MODE": "prod" }, "callers": ["web"], "origin": "https://origin.example" }
${commonHelp}`,
  scheduled: `usage: islet scheduled <tenant> [--cron <expression>] [--time <ms since the epoch>]

Runs the tenant's scheduled handler now (as wrangler dev --test-scheduled does), with the cron
given (default: its first declared trigger) and prints how the run ended.
${commonHelp}`,
};

function readDeclarations(file: string): Record<string, unknown> {
  const text = file === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(file, 'utf8');
  if (file.endsWith('.toml')) return parseConfig(file, text);
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new CliError(`islet bindings: ${file} is not JSON: ${(error as Error).message}`);
  }
}

async function bindings(args: string[]): Promise<void> {
  const help = usage.bindings!;
  const parsed = parseCommand('bindings', help, args, { set: { type: 'string' } });
  if (!parsed) return;
  expectPositionals('bindings', help, parsed.positionals, 1);
  const tenant = parsed.positionals[0]!;
  const admin = clientFor(parsed.values);
  const route = tenantRoute(tenant, '/bindings');
  const result = parsed.values.set
    ? await admin.json('PUT', route, {
        data: JSON.stringify(readDeclarations(parsed.values.set)),
        type: 'application/json',
      })
    : await admin.json('GET', route);
  print(parsed.values.json, result, () =>
    [
      `${tenant}: declared ${JSON.stringify(result.declared)}`,
      `  by its deployment ${JSON.stringify(result.deployment)}`,
      `  effective ${JSON.stringify(result.effective)}`,
    ].join('\n'),
  );
}

async function scheduled(args: string[]): Promise<void> {
  const help = usage.scheduled!;
  const parsed = parseCommand('scheduled', help, args, { cron: { type: 'string' }, time: { type: 'string' } });
  if (!parsed) return;
  expectPositionals('scheduled', help, parsed.positionals, 1);
  const tenant = parsed.positionals[0]!;
  const query = queryString({ cron: parsed.values.cron, time: parsed.values.time });
  const result = await clientFor(parsed.values).json('POST', tenantRoute(tenant, `/scheduled${query}`));
  print(parsed.values.json, result, () => {
    const how = result.outcome === 'ok' ? 'ok' : `${result.outcome}: ${result.error ?? ''}`;
    return `${tenant}: scheduled '${result.cron}' ran in ${result.wallMs.toFixed(1)} ms (cpu ${result.cpuMs.toFixed(1)} ms): ${how}`;
  });
  if (result.outcome !== 'ok') process.exitCode = 1;
}

export const run: CommandModule['run'] = (command, args) =>
  command === 'scheduled' ? scheduled(args) : bindings(args);
