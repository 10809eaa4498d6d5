// `islet profile <tenant> [--seconds N] [-o file]`: a CPU profile of the tenant's isolates from
// the admin API (POST /v1/tenants/{t}/profile), saved as a `.cpuprofile` that Chrome DevTools
// (Performance panel, "Load profile") or VS Code opens, and summarized here: the functions that
// held the CPU most, at their lines in the uploaded files.
import fs from 'node:fs';
import { CliError } from '../errors';
import { queryString, tenantRoute } from './admin-client';
import { type CommandModule, clientFor, commonHelp, expectPositionals, parseCommand, print, table } from './command';
import { escapeTerminal } from './terminal';

export const usage: Record<string, string> = {
  profile: `usage: islet profile <tenant> [--seconds N] [-o <file>]

Samples the CPU of the tenant's isolates for N seconds (default 5; the server caps it, config
profiles.maxSeconds) while they serve, writes the profile to <file> (default
<tenant>-<time>.cpuprofile; '-' for standard output) and prints the functions that used the
most CPU. Open the file in Chrome DevTools (Performance, "Load profile") or in the dashboard.
One profile per tenant runs at a time.

options:
  --seconds <N>, -s   how long to sample (0.1 to the server's cap)
  --output <file>, -o where to write the .cpuprofile ('-': standard output)
${commonHelp}`,
};

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
}

/** The functions with the most samples (self time), merged by function and place. */
export function topFunctions(nodes: ProfileNode[], count = 10): { name: string; at: string; samples: number }[] {
  const byPlace = new Map<string, { name: string; at: string; samples: number }>();
  for (const node of nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    if (!node.hitCount || functionName === '(idle)' || functionName === '(root)') continue;
    const at = url ? `${url}:${lineNumber + 1}` : '';
    const key = `${functionName}\0${at}`;
    const entry = byPlace.get(key) ?? { name: functionName || '(anonymous)', at, samples: 0 };
    entry.samples += node.hitCount;
    byPlace.set(key, entry);
  }
  return [...byPlace.values()].sort((a, b) => b.samples - a.samples).slice(0, count);
}

async function profile(args: string[]): Promise<void> {
  const help = usage.profile!;
  const parsed = parseCommand('profile', help, args, {
    seconds: { type: 'string', short: 's' },
    output: { type: 'string', short: 'o' },
  });
  if (!parsed) return;
  const { values, positionals } = parsed;
  expectPositionals('profile', help, positionals, 1);
  const tenant = positionals[0]!;
  if (values.seconds !== undefined && !(Number(values.seconds) > 0))
    throw new CliError(`islet profile: --seconds must be a positive number, got '${values.seconds}'`);
  const admin = clientFor(values);
  const route = tenantRoute(tenant, `/profile${queryString({ seconds: values.seconds })}`);
  const response = await admin.send('POST', route);
  const text = await response.text();
  let data: { nodes: ProfileNode[]; samples: number[] };
  try {
    data = JSON.parse(text);
  } catch {
    throw new CliError(`islet profile: the answer is not a profile: ${text.slice(0, 200)}`, 'ISLET_CLI_ADMIN_FAILED');
  }
  if (values.output === '-') {
    process.stdout.write(text);
    return;
  }
  const file = values.output ?? `${tenant}-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`;
  fs.writeFileSync(file, text);
  const isolates = Number(response.headers.get('x-islet-isolates') ?? 0);
  const top = topFunctions(data.nodes);
  print(values.json, { file, isolates, samples: data.samples.length, top }, () => {
    const head = `wrote ${file}: ${data.samples.length} samples of ${isolates} isolate${isolates === 1 ? '' : 's'}`;
    if (top.length === 0) return `${head}\n(no tenant code ran while sampling: send it traffic during the profile)`;
    const rows = top.map((t) => [String(t.samples), escapeTerminal(t.name), escapeTerminal(t.at)]);
    return `${head}\n\n${table([['samples', 'function', 'where'], ...rows])}`;
  });
}

export const run: CommandModule['run'] = (_command, args) => profile(args);
