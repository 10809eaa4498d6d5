// `islet workers`: the processes serving tenants (GET /v1/workers, operator only): each worker's
// pid, uptime, restarts of its slot, memory and open connections, and the supervisor's totals.
import { type CommandModule, clientFor, commonHelp, parseCommand, print, table } from './command';

export const usage: Record<string, string> = {
  workers: `usage: islet workers

Lists the serving processes: with worker processes (islet serve --workers N) each worker slot
with its pid, uptime, restarts, memory (RSS and V8 heap), live isolates and open connections;
in one process, that process. Needs the operator token.
${commonHelp}`,
};

interface WorkerInfo {
  slot: number;
  pid: number | null;
  state: string;
  startedAt: string | null;
  uptimeS: number | null;
  restarts: number;
  rssBytes: number | null;
  heapUsedBytes: number | null;
  isolates: number | null;
  connections: number | null;
}

function duration(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 120) return `${Math.round(seconds)}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)}h`;
  return `${(seconds / 86400).toFixed(1)}d`;
}

const mib = (bytes: number | null) => (bytes === null ? '-' : `${(bytes / 1048576).toFixed(0)} MiB`);

export const run: CommandModule['run'] = async (_command, args) => {
  const parsed = parseCommand('workers', usage.workers!, args, {});
  if (!parsed) return;
  const result = await clientFor(parsed.values).json('GET', '/v1/workers');
  print(parsed.values.json, result, () =>
    [
      `${result.mode === 'cluster' ? `supervisor pid ${result.supervisor.pid}, ` : 'one process, '}` +
        `up ${duration(result.supervisor.uptimeS)}, ${result.restarts} restart${result.restarts === 1 ? '' : 's'}` +
        (result.crashLoops ? `, ${result.crashLoops} crash loop${result.crashLoops === 1 ? '' : 's'}` : ''),
      table([
        ['SLOT', 'PID', 'STATE', 'UPTIME', 'RESTARTS', 'RSS', 'HEAP', 'ISOLATES', 'CONNECTIONS'],
        ...result.workers.map((w: WorkerInfo) => [
          String(w.slot),
          String(w.pid ?? '-'),
          w.state,
          duration(w.uptimeS),
          String(w.restarts),
          mib(w.rssBytes),
          mib(w.heapUsedBytes),
          String(w.isolates ?? '-'),
          String(w.connections ?? '-'),
        ]),
      ]),
    ].join('\n'),
  );
};
