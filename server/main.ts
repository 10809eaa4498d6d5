// The `islet` command line. Each command lives in its own module under cli/, loaded on demand
// so that `islet deploy` does not pay for starting isolates and `islet serve` not for the CLI.
// Every module exports `usage` (its help per command) and `run`; `islet help <command>`,
// `islet <command> --help` and `islet <command> -h` print the same text.
import fs from 'node:fs';
import path from 'node:path';
import type { CommandModule } from './cli/command';
import { CliError } from './errors';

interface Command {
  module: string;
  summary: string;
}

const commands: Record<string, Command> = {
  serve: { module: 'serve', summary: 'serve tenant functions (tenant port + admin port)' },
  dev: { module: 'dev', summary: 'serve one function from a folder, rebuilding on change' },
  deploy: { module: 'deploy', summary: 'upload a function folder or file as a new deployment (-m: message)' },
  deployments: { module: 'deployments', summary: "list, show, diff or delete a tenant's deployments" },
  rollback: { module: 'deployments', summary: 'make the previous (or a given) deployment active again' },
  tenants: { module: 'tenants', summary: 'list, show, create, delete tenants; change their limits' },
  routes: { module: 'tenants', summary: 'list the custom routes of every tenant (or one)' },
  env: { module: 'env', summary: "get, set and unset a tenant's env vars" },
  secret: { module: 'env', summary: "put, delete and list a tenant's secrets" },
  tokens: { module: 'tokens', summary: 'create, list and revoke deploy tokens and metrics scrape tokens' },
  kv: { module: 'kv', summary: "get, put, list and delete keys of a tenant's KV namespaces" },
  bindings: { module: 'bindings', summary: "show or set a tenant's bindings (KV, services, crons, callers, origin)" },
  scheduled: { module: 'bindings', summary: "run a tenant's scheduled handler now (--cron)" },
  logs: { module: 'logs', summary: "show a tenant's logs, filtered (--follow to stream them)" },
  tail: { module: 'logs', summary: "stream a tenant's new log lines, filtered like logs" },
  profile: { module: 'profile', summary: "CPU-profile a tenant's isolates for N seconds (.cpuprofile)" },
  workers: { module: 'workers', summary: 'the serving processes: uptime, restarts, memory' },
  store: { module: 'store', summary: 'migrate the store (schema, or copy --from a store --to another), keygen, rekey' },
};

/** package.json's version (the file sits two folders above dist/server/main.js and server/main.ts) */
export function version(): string {
  for (const candidate of [path.join(__dirname, '../../package.json'), path.join(__dirname, '../package.json')]) {
    try {
      const pkg = JSON.parse(fs.readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'islet' && pkg.version) return pkg.version;
    } catch {
      // try the next place
    }
  }
  return 'unknown';
}

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return (
    `usage: islet <command> [options]\n\ncommands:\n${lines.join('\n')}\n\n` +
    "Run 'islet help <command>' (or 'islet <command> --help') for a command's options; " +
    "'islet --version' prints the version.\n" +
    'Installed as a dependency, run it as npx islet <command>.'
  );
}

function load(name: string): CommandModule {
  return require(path.join(__dirname, 'cli', commands[name]!.module)) as CommandModule;
}

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    console.log(usage());
    return;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    console.log(`islet ${version()}`);
    return;
  }
  if (name === 'help') {
    const topic = rest[0];
    if (!topic) return console.log(usage());
    if (!commands[topic]) throw new CliError(`islet help: unknown command '${topic}'\n\n${usage()}`);
    console.log(load(topic).usage[topic]);
    return;
  }
  if (!commands[name]) {
    throw new CliError(`islet: unknown command '${name}'\n\n${usage()}`);
  }
  await load(name).run(name, rest);
}
