// What every CLI command module shares: its help texts, argument parsing with the options all
// admin commands take (--admin-url, --token, --json, --help), and printing for people (aligned
// tables) or for shell pipelines (--json: one JSON document on stdout, nothing else there).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError } from '../errors';
import { AdminClient } from './admin-client';
import { adminTarget } from './admin-target';

/** A command module under server/cli/: `usage[command]` is its help, `run` does it. */
export interface CommandModule {
  usage: Record<string, string>;
  run(command: string, args: string[]): Promise<void>;
}

export const commonHelp = `
common options:
  --admin-url <url>   admin API (env ISLET_ADMIN_URL, or http://127.0.0.1:$ISLET_ADMIN_PORT;
                      default http://127.0.0.1:8081)
  --token <token>     operator or tenant deploy token (env ISLET_ADMIN_TOKEN,
                      default: <ISLET_DATA_DIR or .islet>/admin-token)
  --json              print the API's JSON answer instead of text
  --help, -h          this help`;

const adminOptions = {
  'admin-url': { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * node:util's parseArgs with the admin options added; its mistakes are the user's (CliError with
 * the command's usage). `--help` anywhere prints the usage and answers null.
 */
export interface Parsed {
  // biome-ignore lint/suspicious/noExplicitAny: values are typed by each command's options table
  values: Record<string, any>;
  positionals: string[];
}

export function parseCommand(command: string, usage: string, args: string[], options: Options): Parsed | null {
  let parsed: Parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, allowNegative: true, options: { ...options, ...adminOptions } });
  } catch (error) {
    throw new CliError(`islet ${command}: ${(error as Error).message}\n\n${usage}`);
  }
  if (parsed.values.help) {
    console.log(usage);
    return null;
  }
  return parsed;
}

/** The admin API the parsed flags point at. */
export function clientFor(values: { 'admin-url'?: unknown; token?: unknown }): AdminClient {
  return new AdminClient(
    adminTarget({ 'admin-url': values['admin-url'] as string | undefined, token: values.token as string | undefined }),
  );
}

/** Throws the usage unless exactly `count` (or between min and max) positionals were given. */
export function expectPositionals(command: string, usage: string, positionals: string[], min: number, max = min): void {
  if (positionals.length >= min && positionals.length <= max) return;
  const want = min === max ? `${min}` : `${min} to ${max}`;
  throw new CliError(
    `islet ${command}: expected ${want} argument${max === 1 ? '' : 's'}, got ${positionals.length}\n\n${usage}`,
  );
}

/** Aligned columns; the first row is the header. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => (cell ?? '').padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** --json: the value as indented JSON; else the text. */
export function print(json: boolean, value: unknown, text: () => string): void {
  console.log(json ? JSON.stringify(value, null, 2) : text());
}

/** `36.2 KiB` */
export function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}
