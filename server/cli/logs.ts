// `islet logs <tenant> [--follow]`: a tenant's recent logs from the admin API
// (GET /v1/tenants/{t}/logs), and with --follow every new line as it is written, until Ctrl-C.
// The admin URL and token come from --admin-url/--token, else ISLET_ADMIN_URL/ISLET_ADMIN_TOKEN,
// else http://127.0.0.1:8081 and the token file a local server generated, as for `islet deploy`.
import { parseArgs } from 'node:util';
import { CliError } from '../errors';
import { adminTarget, type AdminTarget } from './admin-target';

const usage = `usage: islet logs <tenant> [options]

Prints a tenant's recent log lines (console output, requests, limit cuts, errors), oldest first.

options:
  --follow, -f        keep printing new lines as they are written (Ctrl-C to stop)
  --limit, -n <N>     how many recent lines to print first (default 100)
  --json              print the raw JSON lines instead of text
  --admin-url <url>   admin API (env ISLET_ADMIN_URL, default http://127.0.0.1:8081)
  --token <token>     operator or tenant deploy token (env ISLET_ADMIN_TOKEN,
                      default: <ISLET_DATA_DIR or .islet>/admin-token)`;

interface Options {
  tenant: string;
  follow: boolean;
  limit: number;
  json: boolean;
  url: string;
  token: string;
}

/** The command line as node:util's parseArgs reads it; its mistakes are the user's (CliError). */
function readArgs(args: string[]) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      options: {
        follow: { type: 'boolean', short: 'f' },
        limit: { type: 'string', short: 'n' },
        json: { type: 'boolean' },
        'admin-url': { type: 'string' },
        token: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new CliError(`islet logs: ${(error as Error).message}\n\n${usage}`);
  }
}

function parse(args: string[]): Options | null {
  const { values, positionals } = readArgs(args);
  if (values.help) return null;
  if (positionals.length !== 1)
    throw new CliError(`islet logs: expected exactly one tenant name, got ${positionals.length}\n\n${usage}`);
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 0)
    throw new CliError(`islet logs: --limit must be a non-negative integer, got ${JSON.stringify(values.limit)}`);
  let target: AdminTarget;
  try {
    target = adminTarget(values);
  } catch (error) {
    throw new CliError(`islet logs: ${(error as Error).message}`);
  }
  const { url, token } = target;
  return { tenant: positionals[0], follow: values.follow ?? false, limit, json: values.json ?? false, url, token };
}

/** One log record as a person reads it: time, level, request id, what happened. */
export function formatLine(record: Record<string, unknown>): string {
  const time = typeof record.time === 'string' ? record.time : '';
  const level = String(record.level ?? 'info')
    .toUpperCase()
    .padEnd(5);
  const request = typeof record.requestId === 'string' ? ` [${record.requestId}]` : '';
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
  const stack = typeof record.stack === 'string' ? '\n' + indent(record.stack) : '';
  return `${time} ${level}${request} ${text}${stack}`;
}

function indent(stack: string): string {
  return stack
    .split('\n')
    .map((line) => '    ' + line.trimStart())
    .join('\n');
}

function print(line: string, json: boolean): void {
  if (!line) return;
  if (json) {
    process.stdout.write(line + '\n');
    return;
  }
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line);
  } catch {
    process.stdout.write(line + '\n');
    return;
  }
  process.stdout.write(formatLine(record) + '\n');
}

export async function run(_command: string, args: string[]): Promise<void> {
  const options = parse(args);
  if (!options) {
    console.log(usage);
    return;
  }
  // `islet logs x | head` closes stdout early: that ends the command, it is not an error
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  const query = new URLSearchParams({ limit: String(options.limit) });
  if (options.follow) query.set('follow', '1');
  const route = `/v1/tenants/${encodeURIComponent(options.tenant)}/logs?${query}`;
  let response: Response;
  try {
    response = await fetch(`${options.url}${route}`, { headers: { authorization: `Bearer ${options.token}` } });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new CliError(
      `islet logs: cannot reach the admin API at ${options.url}: ` +
        (cause?.code ?? cause?.message ?? (error as Error).message),
      'ISLET_CLI_ADMIN_FAILED',
    );
  }
  if (!response.ok) {
    const text = await response.text();
    let detail = text.slice(0, 500) || response.statusText;
    try {
      const body = JSON.parse(text) as { error?: { code: string; message: string } };
      if (body.error) detail = `${body.error.message} (${body.error.code})`;
    } catch {
      // not JSON: the text itself is the detail
    }
    throw new CliError(`islet logs: GET ${route} failed with ${response.status}: ${detail}`, 'ISLET_CLI_ADMIN_FAILED');
  }
  if (!response.body) return;
  const decoder = new TextDecoder();
  let pending = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    pending += decoder.decode(chunk, { stream: true });
    let at: number;
    while ((at = pending.indexOf('\n')) >= 0) {
      print(pending.slice(0, at), options.json);
      pending = pending.slice(at + 1);
    }
  }
  print(pending + decoder.decode(), options.json);
  if (options.follow) throw new CliError('islet logs: the server closed the log stream', 'ISLET_CLI_ADMIN_FAILED');
}
