// `islet logs <tenant>` and `islet tail <tenant>`: a tenant's log lines from the admin API
// (GET /v1/tenants/{t}/logs), filtered on the server like `wrangler tail` (--status, --method,
// --search, --level, --since/--until), and with --follow (or `tail`) every new line as it is
// written, until Ctrl-C. Tenant text is escaped before it reaches the terminal (terminal.ts).
import { CliError } from '../errors';
import { queryString, tenantRoute } from './admin-client';
import { type CommandModule, clientFor, commonHelp, parseCommand } from './command';
import { escapeTerminal, safeLines } from './terminal';

const filterHelp = `  --status <s>        requests by outcome: ok (below 400), error (500 and up, limit cuts and
                      uncaught exceptions), 4xx, 5xx or a code; comma-separated for several
  --method <m>        requests by HTTP method (GET, POST...; comma-separated for several)
  --search <text>     lines whose text (message, path, stack, request id) contains it (any case)
  --level <l>         lines at this level or above: debug, info, warn, error
  --since <time>      lines written at or after: an ISO time, or an age such as 30s, 15m, 2h, 1d
  --until <time>      lines written before (same forms)`;

export const usage: Record<string, string> = {
  logs: `usage: islet logs <tenant> [options]

Prints a tenant's recent log lines (console output, requests, limit cuts, errors), oldest first.

options:
  --follow, -f        keep printing new lines as they are written (Ctrl-C to stop)
  --limit, -n <N>     how many recent lines to print first (default 100)
${filterHelp}
${commonHelp.replace("print the API's JSON answer instead of text", 'print the raw JSON lines instead of text')}`,
  tail: `usage: islet tail <tenant> [options]

Streams a tenant's new log lines as they are written (islet logs --follow -n 0), until Ctrl-C.

options:
  --limit, -n <N>     recent lines to print before the live ones (default 0)
${filterHelp}
${commonHelp.replace("print the API's JSON answer instead of text", 'print the raw JSON lines instead of text')}`,
};

const LEVELS = new Set(['debug', 'info', 'warn', 'error']);

/** One log record as a person reads it: time, level, request id, what happened. */
export function formatLine(record: Record<string, unknown>): string {
  const time = typeof record.time === 'string' ? escapeTerminal(record.time) : '';
  const level = escapeTerminal(String(record.level ?? 'info'))
    .toUpperCase()
    .padEnd(5);
  const request = typeof record.requestId === 'string' ? ` [${escapeTerminal(record.requestId)}]` : '';
  let text: string;
  switch (record.source) {
    case 'request':
      text =
        `${record.method} ${record.path} -> ${record.status}  cpu ${record.cpuMs} ms  wall ${record.wallMs} ms` +
        (record.cold ? '  cold start' : '');
      break;
    case 'limit':
      text = `${record.msg} (measured ${record.measured}${record.unit ? ` ${record.unit}` : ''})`;
      break;
    default:
      text = String(record.msg ?? '');
  }
  const stack = typeof record.stack === 'string' ? `\n${indent(record.stack)}` : '';
  return `${time} ${level}${request} ${safeLines(text)}${stack}`;
}

function indent(stack: string): string {
  return escapeTerminal(stack)
    .split('\n')
    .map((line) => `    ${line.trimStart()}`)
    .join('\n');
}

function printLine(line: string, json: boolean): void {
  if (!line) return;
  if (json) {
    // raw JSON: control characters are \u-escaped inside JSON strings already; a line that is not
    // JSON (it should not happen) is escaped like any text
    process.stdout.write(`${escapeTerminal(line)}\n`);
    return;
  }
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line);
  } catch {
    process.stdout.write(`${safeLines(line)}\n`);
    return;
  }
  process.stdout.write(`${formatLine(record)}\n`);
}

async function logs(command: string, args: string[]): Promise<void> {
  const help = usage[command]!;
  const tail = command === 'tail';
  const parsed = parseCommand(command, help, args, {
    follow: { type: 'boolean', short: 'f', default: tail },
    limit: { type: 'string', short: 'n' },
    status: { type: 'string' },
    method: { type: 'string' },
    search: { type: 'string' },
    level: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
  });
  if (!parsed) return;
  const { values, positionals } = parsed;
  if (positionals.length !== 1)
    throw new CliError(`islet ${command}: expected exactly one tenant name, got ${positionals.length}\n\n${help}`);
  const limit = values.limit === undefined ? (tail ? 0 : 100) : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 0)
    throw new CliError(`islet ${command}: --limit must be a non-negative integer, got ${JSON.stringify(values.limit)}`);
  if (values.level !== undefined && !LEVELS.has(values.level))
    throw new CliError(`islet ${command}: --level must be one of debug, info, warn, error, got '${values.level}'`);
  let admin: ReturnType<typeof clientFor>;
  try {
    admin = clientFor(values);
  } catch (error) {
    throw new CliError(`islet ${command}: ${(error as Error).message}`);
  }
  // `islet logs x | head` closes stdout early: that ends the command, it is not an error
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  const query = queryString({
    limit: String(limit),
    follow: values.follow ? '1' : undefined,
    status: values.status,
    method: values.method,
    q: values.search,
    level: values.level,
    since: values.since,
    until: values.until,
  });
  let response: Response;
  try {
    response = await admin.send('GET', tenantRoute(positionals[0]!, `/logs${query}`));
  } catch (error) {
    throw new CliError(`islet ${command}: ${(error as Error).message}`, 'ISLET_CLI_ADMIN_FAILED');
  }
  if (!response.body) return;
  const decoder = new TextDecoder();
  let pending = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    pending += decoder.decode(chunk, { stream: true });
    let at = pending.indexOf('\n');
    while (at >= 0) {
      printLine(pending.slice(0, at), values.json);
      pending = pending.slice(at + 1);
      at = pending.indexOf('\n');
    }
  }
  printLine(pending + decoder.decode(), values.json);
  if (values.follow) throw new CliError(`islet ${command}: the server closed the log stream`, 'ISLET_CLI_ADMIN_FAILED');
}

export const run: CommandModule['run'] = (command, args) => logs(command, args);
