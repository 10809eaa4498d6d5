// The `islet` command line. Each command lives in its own module under cli/, loaded on demand
// so that `islet deploy` does not pay for starting isolates and `islet serve` not for the CLI.
import path from 'node:path';
import { CliError } from './errors';

interface Command {
  module: string;
  summary: string;
}

const commands: Record<string, Command> = {
  serve: { module: 'serve', summary: 'serve tenant functions (tenant port + admin port)' },
  dev: { module: 'dev', summary: 'serve one function from a folder, reloading on change' },
  deploy: { module: 'deploy', summary: 'upload a function folder or file as a new deployment' },
  deployments: { module: 'deploy', summary: "list a tenant's deployments" },
  rollback: { module: 'deploy', summary: 'activate an earlier deployment of a tenant' },
  tenants: { module: 'deploy', summary: 'list tenants' },
  logs: { module: 'logs', summary: "show a tenant's logs (--follow to stream them)" },
  store: { module: 'store', summary: 'migrate the store (schema, or copy --from a store --to another), keygen, rekey' },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  const list = lines.join('\n');
  const help = "Run 'islet <command> --help' for a command's options.";
  return `usage: islet <command> [options]\n\ncommands:\n${list}\n\n${help}`;
}

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return;
  }
  const command = commands[name];
  if (!command) {
    throw new CliError(`islet: unknown command '${name}'\n\n${usage()}`);
  }
  const mod = require(path.join(__dirname, 'cli', command.module)) as {
    run(command: string, args: string[]): Promise<void>;
  };
  await mod.run(name, rest);
}
