// The load generator process: one autocannon run (warm-up, then the measured phase) against one
// URL, result printed as one JSON line on stdout. It runs in its own process so that the load
// generator never shares an event loop with the harness or with a server under test.
//
// Latencies are collected from autocannon's per-response event with sub-millisecond precision
// and sorted here, because autocannon's own histogram has a 1 ms resolution, too coarse for
// the latencies of a local hello world.
import type { LoadOptions, LoadResult } from './loadgen';
import { percentileSorted } from './stats';

interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  requests: { total: number; sent: number };
  throughput: { total: number };
  statusCodeStats: Record<string, { count: number }>;
}
interface AutocannonInstance {
  on(event: 'response', listener: (client: unknown, status: number, bytes: number, ms: number) => void): void;
}
type Autocannon = (
  opts: Record<string, unknown>,
  cb: (err: Error | null, res: AutocannonResult) => void,
) => AutocannonInstance;
const autocannon = require('autocannon') as Autocannon;

function runOnce(opts: LoadOptions, seconds: number, latencies: number[] | null): Promise<AutocannonResult> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: opts.url,
        method: opts.method ?? 'GET',
        headers: opts.headers ?? {},
        body: opts.body,
        connections: opts.connections,
        pipelining: 1,
        duration: seconds,
        timeout: 10,
        // autocannon retries on errors by default with a pause; a failing system must show up
        // as errors, not as a quiet pause in throughput.
        reconnectRate: 0,
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    if (latencies) {
      instance.on('response', (_client, status, _bytes, ms) => {
        if (status >= 200 && status < 300) latencies.push(ms);
      });
    }
  });
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
  if (!opts.url) throw new Error('loadgen-child: expected the load options as JSON in argv[2]');
  if (opts.warmupSeconds > 0) await runOnce(opts, opts.warmupSeconds, null);
  const latencies: number[] = [];
  const res = await runOnce(opts, opts.durationSeconds, latencies);
  const sorted = Float64Array.from(latencies).sort();
  const result: LoadResult = {
    requestsPerSecond: res['2xx'] / res.duration,
    ok: res['2xx'],
    non2xx: res.non2xx,
    errors: res.errors,
    timeouts: res.timeouts,
    bytesPerSecond: res.throughput.total / res.duration,
    durationSeconds: res.duration,
    latencyMs: {
      p50: percentileSorted(sorted, 50),
      p90: percentileSorted(sorted, 90),
      p99: percentileSorted(sorted, 99),
      max: sorted.length ? sorted[sorted.length - 1] : Number.NaN,
    },
    statusCodes: Object.fromEntries(Object.entries(res.statusCodeStats).map(([k, v]) => [k, v.count])),
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`loadgen-child: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
